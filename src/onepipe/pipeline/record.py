"""A pipeline run as data, and the one way such a record reaches MLflow.

Every tracked run builds a ``RunRecord``. A run that executes steps writes it as it
goes: ``open_run`` before the first step, a step run as each step ends (the tracker
is a listener), ``close_run`` at the end. A fully cached CLI run queues the record
instead (pipeline/outbox.py) and ``replay`` writes it later through the same two
functions. ``close_run`` is the only place a run's model is registered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onepipe.pipeline.cache import StepCache
from onepipe.pipeline.protocol import StepResult
from onepipe.pipeline.tracker import MlflowTracker
from onepipe.tracking.registry import ModelRef, register
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

    @property
    def failed(self) -> bool:
        return any(s.status == "failed" for s in self.steps)

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


def open_run(record: RunRecord) -> MlflowTracker:
    """The record's MLflow run, opened (RUNNING, with its lease) and ready for its steps."""
    cache = StepCache(Path(record.cache_root))
    tracker = MlflowTracker(record.target, cache, parent_run_id=record.parent_run_id)
    tracker.start(run_name=record.run_name, params=record.params, tags=record.tags, ir=record.ir)
    return tracker


def close_run(tracker: MlflowTracker, record: RunRecord) -> tuple[ModelRef | None, bool]:
    """Register the record's model (none once a step failed), tag the run with it and end
    the run; returns (the model version, whether it is new)."""
    ref, is_new = None, False
    final_tags = dict(record.final_tags)
    if record.model and not record.failed:
        model = record.model
        ref, is_new = register(record.target, tracker.run_id, Path(model["path"]), model["hash"])
        # A later fully cached run reads the version here instead of asking the registry.
        tracker.cache.annotate(
            model["step_key"], model_version=ref.version, tracking_uri=record.target.tracking_uri
        )
        final_tags["onepipe.model"] = f"{ref.name}/{ref.version}"
    tracker.finish(metrics=record.metrics, tags=final_tags, failed=record.failed)
    return ref, is_new


def replay(record: RunRecord) -> tuple[str, ModelRef | None, bool]:
    """Write a finished run's record after the fact; returns (run id, model version, is new)."""
    tracker = open_run(record)
    for step in record.steps:
        tracker.step_finished(step)
    ref, is_new = close_run(tracker, record)
    return tracker.run_id, ref, is_new
