"""What is deployed: champion + optional challenger, the canary share, shadow and sticky flags."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from onepipe.errors import UsageError

CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class DeploymentState:
    model: str
    champion: str  # registry version answering (100 - canary)% of requests
    challenger: str | None = None
    canary: int = 0  # percent of requests routed to the challenger
    shadow: bool = False  # challenger gets a copy of every request; the champion answers
    sticky: bool = False  # route by the sticky header's value (same user -> same model)

    def __post_init__(self) -> None:
        # The registry hands out versions as int or str depending on the store: keep text.
        object.__setattr__(self, "champion", str(self.champion))
        if self.challenger is not None:
            object.__setattr__(self, "challenger", str(self.challenger))
        object.__setattr__(self, "canary", int(self.canary))
        if not 0 <= int(self.canary) <= 100:
            raise UsageError(f"canary: expected a percentage 0..100, found {self.canary}")
        if self.challenger is None and (self.canary or self.shadow):
            raise UsageError(
                "canary/shadow: there is no challenger to send traffic to "
                "(expected a registered version with alias challenger)"
            )
        if self.challenger is not None and self.challenger == self.champion:
            raise UsageError(f"challenger: version {self.challenger} is already the champion")

    @property
    def weights(self) -> dict[str, int]:
        """Version -> percent of answered requests."""
        if self.challenger is None or self.shadow:
            return {self.champion: 100}
        return {self.champion: 100 - self.canary, self.challenger: self.canary}

    @property
    def versions(self) -> tuple[str, ...]:
        return (self.champion,) if self.challenger is None else (self.champion, self.challenger)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DeploymentState:
        return cls(
            model=str(data["model"]),
            champion=str(data["champion"]),
            challenger=None if data.get("challenger") in (None, "") else str(data["challenger"]),
            canary=int(data.get("canary") or 0),
            shadow=bool(data.get("shadow")),
            sticky=bool(data.get("sticky")),
        )

    def promoted(self) -> DeploymentState:
        """The challenger becomes the champion at 100%."""
        if self.challenger is None:
            raise UsageError(f"{self.model}: nothing to promote (no challenger is deployed)")
        return replace(self, champion=self.challenger, challenger=None, canary=0, shadow=False)

    def describe(self) -> str:
        if self.challenger is None:
            return f"{self.model} v{self.champion} 100%"
        if self.shadow:
            return f"{self.model} v{self.champion} 100% + v{self.challenger} shadow"
        return (
            f"{self.model} v{self.champion} {100 - self.canary}% / "
            f"v{self.challenger} {self.canary}%" + (" (sticky)" if self.sticky else "")
        )
