"""One pipeline run, whatever the entry point: resolve data, compile, run, track, register.

The CLI, the notebook API, sweep trials and reproduce all call ``run_pipeline``
with a ``Settings``; the runner backend comes from that settings object.
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
from onepipe.errors import RunFailed
from onepipe.pipeline.cache import StepCache
from onepipe.pipeline.compile import compile_ir
from onepipe.pipeline.context import StepContext
from onepipe.pipeline.graph import PipelineGraph
from onepipe.pipeline.protocol import NullListener, RunListener, RunPlan, StepResult
from onepipe.plugins import load_backend


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
    from onepipe.data import open_store

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
    started = time.perf_counter()
    plan, data_refs = build_plan(settings, use_cache=use_cache)
    graph, ir, arguments = plan.graph, plan.ir, plan.arguments
    runner = load_backend("runner", settings.backends.runner).from_settings(settings)
    cache = StepCache(plan.cache_dir)

    listeners: list[RunListener] = [listener or NullListener()]
    tracker = target = None
    run_name = f"{graph.name}-{time.strftime('%Y%m%d-%H%M%S')}"
    # A CLI run that will execute nothing queues its MLflow record instead of importing MLflow.
    deferred = track and defer_tracking and runner.fully_cached(plan)
    if track:
        from onepipe.tracking.gitinfo import git_state
        from onepipe.tracking.target import TrackingTarget
        from onepipe.tracking.tracker import lineage_tags

        target = TrackingTarget.from_settings(settings)
        tags = lineage_tags(
            settings,
            git_state(settings.root),
            runner.name,
            data_refs,
            command or shlex.join(["onepipe", *sys.argv[1:]]),
        )
        tags.update(extra_tags or {})
    if track and not deferred:
        from onepipe.tracking.tracker import MlflowTracker

        tracker = MlflowTracker(target, cache, parent_run_id=parent_run_id)
        tracker.start(run_name=run_name, params=arguments, tags=tags, ir=ir)
        listeners.append(tracker)

    try:
        steps = runner.run(plan, _Fanout(listeners))
    except BaseException as exc:  # Ctrl-C or a crash: the MLflow run must not stay RUNNING
        if tracker:
            tracker.abandon("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    failed = next((s for s in steps if s.status == "failed"), None)
    metrics = _run_metrics(settings, steps)
    result = RunResult(
        run_id=tracker.run_id if tracker else "",
        status="failed" if failed else "succeeded",
        steps=steps,
        metrics=metrics,
        arguments=arguments,
        data_refs=data_refs,
        runner=runner.name,
        duration=0.0,
        tracking_uri=settings.tracking_uri,
        experiment_id=tracker.experiment_id if tracker else "",
    )
    final_tags: dict[str, str] = {
        "onepipe.cache_hits": str(result.cache_hits),
        "onepipe.executed": str(result.executed),
    }
    model_step = next((s for s in steps if s.name == settings.model.step), None)
    model = model_step.outputs.get(settings.model.output) if model_step and not failed else None

    if deferred:
        from onepipe.tracking import outbox
        from onepipe.tracking.record import RunRecord, replay

        record = RunRecord(
            target=target,
            cache_root=str(cache.root),
            run_name=run_name,
            params=arguments,
            tags=tags,
            ir=ir,
            steps=steps,
            metrics=metrics,
            final_tags=final_tags,
            parent_run_id=parent_run_id,
            model={"path": str(model.path), "hash": model.hash, "step_key": model_step.cache_key}
            if (register and model)
            else None,
        )
        notes = model_step.notes if model_step else {}
        known = (
            notes.get("model_version")
            if notes.get("tracking_uri") == settings.tracking_uri
            else None
        )
        if record.model is None or known:
            outbox.enqueue(settings.outbox_dir, record)
            outbox.spawn_writer(settings.outbox_dir)
            result.model_version = known
            result.extra["tracking"] = "queued"
        else:  # the model's version is not known here: write now, synchronously
            result.run_id, ref, result.model_is_new = replay(record)
            result.model_version = ref.version if ref else None
    elif register and model is not None and tracker:
        from onepipe.tracking.registry import register as register_model

        ref, is_new = register_model(settings, tracker.run_id, model.path, model.hash)
        result.model_version, result.model_is_new = ref.version, is_new
        final_tags["onepipe.model"] = f"{ref.name}/{ref.version}"
        cache.annotate(
            model_step.cache_key, model_version=ref.version, tracking_uri=settings.tracking_uri
        )
    result.duration = time.perf_counter() - started
    if tracker:
        tracker.finish(metrics=metrics, tags=final_tags, failed=bool(failed))
    if failed:
        raise RunFailed(f"step {failed.name!r} failed: {failed.error}").with_result(result)
    return result


def _run_metrics(settings: Settings, steps: list[StepResult]) -> dict[str, float]:
    for step in steps:
        if step.name == settings.model.metrics_step:
            return step.metrics
    return {}
