"""One pipeline run, whatever the entry point: resolve data, compile, run, track, register.

The CLI, the notebook API, sweep trials and reproduce all call ``run_pipeline``
with a ``Settings``; the runner backend comes from that settings object. Tracking
is one path (pipeline/record.py): the run builds its record, then writes it as it
runs or queues it.
"""

from __future__ import annotations

import functools
import shlex
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onepipe.config import Settings
from onepipe.data import open_store
from onepipe.errors import RunFailed
from onepipe.pipeline import outbox
from onepipe.pipeline.cache import StepCache
from onepipe.pipeline.compile import compile_ir
from onepipe.pipeline.context import StepContext
from onepipe.pipeline.graph import PipelineGraph
from onepipe.pipeline.protocol import NullListener, RunListener, RunPlan, StepResult, load_runner
from onepipe.pipeline.record import RunRecord, close_run, open_run, replay
from onepipe.pipeline.tracker import lineage_tags
from onepipe.tracking.gitinfo import git_state
from onepipe.tracking.target import TrackingTarget


@dataclass
class RunResult:
    run_id: str
    status: str  # "succeeded" | "failed"
    steps: list[StepResult]
    metrics: dict[str, float]
    arguments: dict[str, Any]
    data_refs: dict[str, str]
    runner: str
    duration: float
    model_version: str | None = None
    model_is_new: bool = False
    tracking_uri: str = ""
    experiment_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def cache_hits(self) -> int:
        return sum(1 for s in self.steps if s.status == "cached")

    @property
    def executed(self) -> int:
        return sum(1 for s in self.steps if s.status == "done")

    def step(self, name: str) -> StepResult:
        return next(s for s in self.steps if s.name == name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "runner": self.runner,
            "duration_s": round(self.duration, 3),
            "metrics": self.metrics,
            "arguments": self.arguments,
            "data": self.data_refs,
            "model_version": self.model_version,
            "model_is_new": self.model_is_new,
            "tracking": self.extra.get("tracking", "written"),
            "cache_hits": self.cache_hits,
            "executed": self.executed,
            "steps": [
                {
                    "name": s.name,
                    "status": s.status,
                    "duration_s": round(s.duration, 4),
                    "cache_key": s.cache_key[:16],
                    "source_run": s.source_run,
                    "metrics": s.metrics,
                    "error": s.error,
                }
                for s in self.steps
            ],
        }


class _Fanout:
    def __init__(self, listeners: list[RunListener]) -> None:
        self.listeners = listeners

    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        for listener in self.listeners:
            listener.step_started(task, cache_key, outputs)

    def step_finished(self, result: StepResult) -> None:
        for listener in self.listeners:
            listener.step_finished(result)


def resolve_data_refs(settings: Settings, arguments: dict[str, Any]) -> dict[str, str]:
    """Pin every param naming a data ref (``repo`` or ``repo@ref``) to ``repo@<commit id>``."""
    repos = set(settings.data.repos)
    candidates = {
        k: v
        for k, v in arguments.items()
        if isinstance(v, str) and v.split("@", 1)[0] in repos and (k.endswith("_ref") or "@" in v)
    }
    if not candidates:
        return {}
    store = open_store(settings)
    pinned = {k: store.resolve(v).ref for k, v in candidates.items()}
    arguments.update(pinned)
    return pinned


def build_plan(settings: Settings, *, use_cache: bool = True) -> tuple[RunPlan, dict[str, str]]:
    """Compile, fill the runner-supplied inputs, pin data refs to commits: what any runner runs."""
    ir = compile_ir(settings)
    graph = PipelineGraph.from_ir(ir)
    given = dict(settings.params)
    if "data_store" in graph.inputs:
        given["data_store"] = settings.data_store_uri
    data_refs = resolve_data_refs(settings, given)
    plan = RunPlan(
        graph=graph,
        ir=ir,
        arguments=graph.arguments(given),
        run_dir=settings.path(settings.pipeline.runs_dir) / uuid.uuid4().hex[:12],
        cache_dir=settings.path(settings.pipeline.cache_dir),
        project_root=settings.root,
        pipeline_module=settings.pipeline.module,
        use_cache=use_cache,
        context=StepContext.from_settings(settings),
    )
    return plan, data_refs


def _holding_cache(run):
    """The run holds its step cache in use throughout: ``onepipe gc`` spares what it uses."""

    @functools.wraps(run)
    def wrapper(settings: Settings, *args, **kwargs):
        with StepCache(settings.path(settings.pipeline.cache_dir)).in_use():
            return run(settings, *args, **kwargs)

    return wrapper


@_holding_cache
def run_pipeline(
    settings: Settings,
    *,
    use_cache: bool = True,
    listener: RunListener | None = None,
    register: bool = True,
    parent_run_id: str | None = None,
    extra_tags: dict[str, str] | None = None,
    command: str | None = None,
    track: bool = True,
    defer_tracking: bool = False,
) -> RunResult:
    """Run the pipeline; tracked, it is written to MLflow as it runs and registers its model.

    The caller has brought the store current where its command started (outbox.catch_up),
    except with ``defer_tracking`` (``onepipe run``, which must not import MLflow when it
    executes nothing): a fully cached run then queues its record (pipeline/outbox.py), and
    any other run brings the store current itself before it writes.
    """
    started = time.perf_counter()
    plan, data_refs = build_plan(settings, use_cache=use_cache)
    runner = load_runner(settings.backends.runner).from_settings(settings)
    record = (
        _new_record(settings, plan, runner.name, data_refs, extra_tags, command, parent_run_id)
        if track
        else None
    )
    queue = record is not None and defer_tracking and runner.fully_cached(plan)
    if record and defer_tracking and not queue:
        outbox.catch_up(settings)
    tracker = open_run(record) if record and not queue else None

    listeners = [listener or NullListener(), *([tracker] if tracker else [])]
    try:
        steps = runner.run(plan, _Fanout(listeners))
    except BaseException as exc:  # Ctrl-C or a crash: the MLflow run must not stay RUNNING
        if tracker:
            tracker.abandon("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    failed = next((s for s in steps if s.status == "failed"), None)
    result = RunResult(
        run_id=tracker.run_id if tracker else "",
        status="failed" if failed else "succeeded",
        steps=steps,
        metrics=_run_metrics(settings, steps),
        arguments=plan.arguments,
        data_refs=data_refs,
        runner=runner.name,
        duration=0.0,
        tracking_uri=settings.tracking_uri,
        experiment_id=tracker.experiment_id if tracker else "",
    )
    if record:
        _complete(record, settings, result, register)
    if tracker:
        ref, result.model_is_new = close_run(tracker, record)
        result.model_version = ref.version if ref else None
    elif queue:
        _queue_or_write(settings, record, result)
    result.duration = time.perf_counter() - started
    if failed:
        raise RunFailed(f"step {failed.name!r} failed: {failed.error}").with_result(result)
    return result


def _new_record(
    settings: Settings,
    plan: RunPlan,
    runner: str,
    data_refs: dict[str, str],
    extra_tags: dict[str, str] | None,
    command: str | None,
    parent_run_id: str | None,
) -> RunRecord:
    """The run's record before it runs: what it is, where it came from, where it is tracked."""
    command = command or shlex.join(["onepipe", *sys.argv[1:]])
    tags = lineage_tags(settings, git_state(settings.root), runner, data_refs, command)
    return RunRecord(
        target=TrackingTarget.from_settings(settings),
        cache_root=str(plan.cache_dir),
        run_name=f"{plan.graph.name}-{time.strftime('%Y%m%d-%H%M%S')}",
        params=plan.arguments,
        tags={**tags, **(extra_tags or {})},
        ir=plan.ir,
        parent_run_id=parent_run_id,
    )


def _complete(record: RunRecord, settings: Settings, result: RunResult, register: bool) -> None:
    """What the record learns once the steps ran: their results, the metrics, the model."""
    record.steps, record.metrics = result.steps, result.metrics
    record.final_tags = {
        "onepipe.cache_hits": str(result.cache_hits),
        "onepipe.executed": str(result.executed),
    }
    model_step = _model_step(settings, result)
    model = model_step.outputs.get(settings.model.output) if model_step else None
    if register and model and result.status == "succeeded":
        record.model = {
            "path": str(model.path),
            "hash": model.hash,
            "step_key": model_step.cache_key,
        }


def _model_step(settings: Settings, result: RunResult) -> StepResult | None:
    return next((s for s in result.steps if s.name == settings.model.step), None)


def _queue_or_write(settings: Settings, record: RunRecord, result: RunResult) -> None:
    """A fully cached run: queue its record, unless its model's version is not known here
    (no earlier run of this store noted it in the cache entry): then write it now."""
    model_step = _model_step(settings, result)
    notes = model_step.notes if model_step else {}
    known = (
        notes.get("model_version") if notes.get("tracking_uri") == settings.tracking_uri else None
    )
    if record.model is None or known:
        outbox.enqueue(settings.outbox_dir, record)
        outbox.spawn_writer(settings.outbox_dir)
        result.model_version = known
        result.extra["tracking"] = "queued"
        return
    outbox.catch_up(settings)
    result.run_id, ref, result.model_is_new = replay(record)
    result.model_version = ref.version if ref else None


def _run_metrics(settings: Settings, steps: list[StepResult]) -> dict[str, float]:
    for step in steps:
        if step.name == settings.model.metrics_step:
            return step.metrics
    return {}
