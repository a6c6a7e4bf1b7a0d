"""What a step may know of the project beyond its params: the task, the label, the metrics.

Runners hand it to every step: in-process through a context variable, to a
subprocess (kfp.local) or a pod (Kubeflow Pipelines) as the JSON environment
variable ``ONEPIPE_STEP_CONTEXT``. It is part of every step's cache key, so
changing ``model.task``, ``model.label`` or ``model.metrics`` never serves a
result computed under the old ones. ``onepipe.steps.context()`` reads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from onepipe.config import Settings

ENV_VAR = "ONEPIPE_STEP_CONTEXT"


@dataclass(frozen=True)
class StepContext:
    task: str | None = None  # binary | multiclass | regression; None: the helpers infer it
    label: str | None = None  # the truth column
    metrics: tuple[tuple[str, str], ...] = ()  # (name, direction), primary first

    @classmethod
    def from_settings(cls, settings: Settings) -> StepContext:
        return cls(
            task=settings.model.task,
            label=settings.model.label,
            metrics=tuple((m.name, m.direction) for m in settings.metrics_for()),
        )

    def to_json(self) -> str:
        return json.dumps(
            {"task": self.task, "label": self.label, "metrics": [list(m) for m in self.metrics]},
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> StepContext:
        data: dict[str, Any] = json.loads(text)
        return cls(
            task=data.get("task"),
            label=data.get("label"),
            metrics=tuple((str(n), str(d)) for n, d in data.get("metrics") or ()),
        )

    @property
    def key(self) -> str:
        return hashlib.sha256(self.to_json().encode()).hexdigest()[:16]


_CURRENT: ContextVar[StepContext | None] = ContextVar("onepipe_step_context", default=None)


@contextlib.contextmanager
def use(context: StepContext) -> Iterator[StepContext]:
    """Steps called inside this block (in this thread or task) see ``context``."""
    token = _CURRENT.set(context)
    try:
        yield context
    finally:
        _CURRENT.reset(token)


def current() -> StepContext | None:
    return _CURRENT.get()
