"""The embedded runner: every step a function call in this process, each one cached.

Steps are the same KFP Python components a cluster runs; here their functions
are called directly with KFP artifact objects pointing at local paths, which
is what makes a step cost a few milliseconds instead of a process start.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from onepipe.errors import UsageError
from onepipe.pipeline.cache import StepCache, content_hash, step_key
from onepipe.pipeline.codehash import step_code_hash
from onepipe.pipeline.context import use as use_context
from onepipe.pipeline.graph import TaskSpec, coerce_param
from onepipe.pipeline.loader import import_project_module, remember
from onepipe.pipeline.protocol import ArtifactRecord, RunListener, RunPlan, StepResult


class InProcessRunner:
    name = "inprocess"

    @classmethod
    def from_settings(cls, settings) -> InProcessRunner:
        return cls()

    def __init__(self) -> None:
        self._functions: dict[str, Callable[..., Any]] | None = None

    def run(self, plan: RunPlan, listener: RunListener) -> list[StepResult]:
        cache = StepCache(plan.cache_dir)
        produced: dict[tuple[str, str], ArtifactRecord] = {}
        results: list[StepResult] = []
        failed = False
        for task in plan.graph.tasks:
            if failed:
                results.append(StepResult(task.name, "skipped"))
                continue
            result = self._run_task(task, plan, cache, produced, listener)
            results.append(result)
            listener.step_finished(result)
            if result.status == "failed":
                failed = True
            for name, record in result.outputs.items():
                produced[(task.name, name)] = record
        if self._functions is not None:
            remember(plan.project_root)
        return results

    def fully_cached(self, plan: RunPlan) -> bool:
        return plan.use_cache and len(cached_chain(plan)) == len(plan.graph.tasks)

    def _run_task(
        self,
        task: TaskSpec,
        plan: RunPlan,
        cache: StepCache,
        produced: dict[tuple[str, str], ArtifactRecord],
        listener: RunListener,
    ) -> StepResult:
        key, params, input_hashes = _task_key(task, plan, produced)
        inputs = {name: produced[src] for name, src in task.artifacts.items()}
        result = StepResult(task.name, "done", cache_key=key, params=params, inputs=input_hashes)

        hit = cache.lookup(key) if plan.use_cache else None
        if hit is not None:
            listener.step_started(task.name, key, {})
            result.status, result.outputs, result.source_run = "cached", hit.outputs, hit.source_run
            result.notes = hit.notes
            return result

        staging = cache.staging()
        # Where the step writes, so a listener can follow an output while the step runs
        # (the paths move into the cache when it finishes).
        listener.step_started(
            task.name, key, {name: _output_path(staging, name) for name in task.outputs}
        )
        started = time.perf_counter()
        try:
            outputs = self._call(task, params, inputs, staging, plan)
        except Exception as exc:  # the step's own error is the message the user needs
            cache.discard(staging)
            result.status = "failed"
            result.duration = time.perf_counter() - started
            result.error = _one_line(exc)
            return result
        result.duration = time.perf_counter() - started
        result.outputs = cache.commit(key, staging, outputs, result.duration)
        return result

    def _call(
        self,
        task: TaskSpec,
        params: dict[str, Any],
        inputs: dict[str, ArtifactRecord],
        staging,
        plan: RunPlan,
    ) -> dict[str, ArtifactRecord]:
        # lazy: a fully cached run never imports KFP
        from kfp.dsl.types.artifact_types import _SCHEMA_TITLE_TO_TYPE, Artifact

        func = self._function(task, plan)
        kwargs: dict[str, Any] = dict(params)
        for name, rec in inputs.items():
            cls = _SCHEMA_TITLE_TO_TYPE.get(rec.schema, Artifact)
            kwargs[name] = cls(name=name, uri=str(rec.path), metadata=dict(rec.metadata))
        out_objs = {}
        for name, schema in task.outputs.items():
            cls = _SCHEMA_TITLE_TO_TYPE.get(schema, Artifact)
            out_objs[name] = cls(name=name, uri=str(_output_path(staging, name)), metadata={})
        kwargs.update(out_objs)
        with use_context(plan.context):
            func(**kwargs)
        records = {}
        for name, obj in out_objs.items():
            path = _output_path(staging, name)
            metadata = _plain(obj.metadata)
            records[name] = ArtifactRecord(
                name, task.outputs[name], path, content_hash(path, metadata), metadata
            )
        return records

    def _function(self, task: TaskSpec, plan: RunPlan) -> Callable[..., Any]:
        if self._functions is None:
            self._functions = load_component_functions(plan.pipeline_module, plan.project_root)
        try:
            return self._functions[task.function]
        except KeyError:
            raise UsageError(
                f"task {task.name!r}: component function {task.function!r} is not importable from "
                f"{plan.pipeline_module} (recompile with `onepipe compile`)"
            ) from None


def cached_chain(plan: RunPlan) -> list[str]:
    """Cache keys of the tasks this plan would hit now (a task fed by a miss has no known key)."""
    cache = StepCache(plan.cache_dir)
    produced: dict[tuple[str, str], ArtifactRecord] = {}
    keys = []
    for task in plan.graph.tasks:
        if any(src not in produced for src in task.artifacts.values()):
            continue  # an input is not cached: neither is this task's key known
        key, _, _ = _task_key(task, plan, produced)
        hit = cache.lookup(key)
        if hit is None:
            continue
        keys.append(key)
        for name, record in hit.outputs.items():
            produced[(task.name, name)] = record
    return keys


def _output_path(staging: Path, name: str) -> Path:
    return staging / "outputs" / name


def load_component_functions(module: str, root) -> dict[str, Callable[..., Any]]:
    """Python functions behind the KFP components the pipeline module uses, by function name."""
    from kfp.dsl.python_component import PythonComponent  # lazy: as in InProcessRunner._call

    mod = import_project_module(module, Path(root))
    return {
        obj.python_func.__name__: obj.python_func
        for obj in vars(mod).values()
        if isinstance(obj, PythonComponent)
    }


def _task_key(task: TaskSpec, plan: RunPlan, produced: dict[tuple[str, str], ArtifactRecord]):
    """The cache key of a task: (component, its code, params, input artifact content)."""
    params = {name: _param_value(task, name, src, plan) for name, src in task.params.items()}
    input_hashes = {name: produced[src].hash for name, src in task.artifacts.items()}
    key = step_key(
        task.component,
        step_code_hash(task.source, plan.project_root),
        params,
        input_hashes,
        context=plan.context.key,
    )
    return key, params, input_hashes


def _param_value(task: TaskSpec, name: str, src: tuple[str, Any], plan: RunPlan) -> Any:
    kind, ref = src
    if kind == "pipeline":
        value = plan.arguments[ref]
    elif kind == "const":
        value = ref
    else:
        raise UsageError(
            f"task {task.name!r}: parameter outputs of other tasks are not supported yet ({name})"
        )
    return coerce_param(value, task.param_types.get(name, ""), f"task {task.name}: {name}")


def _plain(metadata: dict[str, Any]) -> dict[str, Any]:
    """Metadata as JSON-safe values (numpy scalars become floats)."""
    return json.loads(json.dumps(metadata, default=float))


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) < 600 else text[:597] + "..."
