"""The routing table: immutable, replaced by one reference assignment when a change is ready."""

from __future__ import annotations

import random
import zlib
from dataclasses import dataclass, field

from onepipe.history import CHALLENGER, CHAMPION, DeploymentState
from onepipe.serve.models import ServedModel


@dataclass(frozen=True)
class Target:
    model: ServedModel
    alias: str  # champion | challenger

    @property
    def version(self) -> str:
        return self.model.version


@dataclass(frozen=True)
class RoutingTable:
    state: DeploymentState
    champion: Target
    challenger: Target | None = None
    by_version: dict[str, Target] = field(default_factory=dict)

    @classmethod
    def build(cls, state: DeploymentState, models: dict[str, ServedModel]) -> RoutingTable:
        champ = Target(models[state.champion], CHAMPION)
        chall = Target(models[state.challenger], CHALLENGER) if state.challenger else None
        by_version = {champ.version: champ}
        if chall:
            by_version[chall.version] = chall
        return cls(state, champ, chall, by_version)

    def pick(self, sticky_key: str | None = None) -> tuple[Target, Target | None]:
        """(the target that answers, a shadow target that gets a copy or None)."""
        chall = self.challenger
        if chall is None:
            return self.champion, None
        if self.state.shadow:
            return self.champion, chall
        canary = self.state.canary
        if canary <= 0:
            return self.champion, None
        if canary >= 100:
            return chall, None
        if self.state.sticky and sticky_key:
            bucket = zlib.crc32(sticky_key.encode()) % 100
        else:
            bucket = random.randrange(100)
        return (chall if bucket < canary else self.champion), None
