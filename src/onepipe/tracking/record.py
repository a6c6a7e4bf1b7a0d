"""A finished run as data, and writing such a record to MLflow after the fact.

Used when a run is tracked after it executed: a fully cached CLI run queues
its record (outbox) instead of paying MLflow's import and store start-up.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onepipe.pipeline.cache import StepCache
from onepipe.pipeline.protocol import StepResult
from onepipe.tracking.target import TrackingTarget


@dataclass
class RunRecord:
    target: TrackingTarget
    cache_root: str
    run_name: str
    params: dict[str, Any]
    tags: dict[str, str]
    ir: dict[str, Any]
    steps: list[StepResult] = field(default_factory=list)
    metrics: dict[str, float] = field(default_factory=dict)
    final_tags: dict[str, str] = field(default_factory=dict)
    model: dict[str, str] | None = None  # {"path", "hash", "step_key"} of the model to register
    parent_run_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = {k: v for k, v in vars(self).items() if k not in ("target", "steps")}
        return {**data, "target": self.target.to_json(), "steps": [s.to_json() for s in self.steps]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunRecord:
        return cls(
            **{
                **data,
                "target": TrackingTarget(**data["target"]),
                "steps": [StepResult.from_json(s) for s in data["steps"]],
            }
        )


class StepRecorder:
    """A ``RunListener`` that only remembers the finished steps."""

    def __init__(self) -> None:
        self.steps: list[StepResult] = []

    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        self.steps.append(result)


def replay(record: RunRecord):
    """Write the record as a parent run with its step runs; register its model. Returns (run_id, ref, is_new)."""
    from onepipe.tracking.registry import register
    from onepipe.tracking.tracker import MlflowTracker

    cache = StepCache(Path(record.cache_root))
    tracker = MlflowTracker(record.target, cache, parent_run_id=record.parent_run_id)
    tracker.start(run_name=record.run_name, params=record.params, tags=record.tags, ir=record.ir)
    for step in record.steps:
        tracker.step_finished(step)
    ref, is_new = None, False
    final_tags = dict(record.final_tags)
    failed = any(s.status == "failed" for s in record.steps)
    if record.model and not failed:
        ref, is_new = register(
            record.target, tracker.run_id, Path(record.model["path"]), record.model["hash"]
        )
        cache.annotate(
            record.model["step_key"],
            model_version=ref.version,
            tracking_uri=record.target.tracking_uri,
        )
        final_tags["onepipe.model"] = f"{ref.name}/{ref.version}"
    tracker.finish(metrics=record.metrics, tags=final_tags, failed=failed)
    return tracker.run_id, ref, is_new
