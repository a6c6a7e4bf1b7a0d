"""The parity runner: the same compiled IR executed by ``kfp.local``'s subprocess runner.

Each step is a fresh Python process running the component's embedded source,
as in a Kubeflow pod (minus the container). No step cache: the point is to
check the pipeline behaves identically outside our in-process runner.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from google.protobuf import json_format
from kfp import local
from kfp.local import pipeline_orchestrator
from kfp.pipeline_spec import pipeline_spec_pb2

from onepipe.pipeline.cache import content_hash
from onepipe.pipeline.context import ENV_VAR as CONTEXT_ENV
from onepipe.pipeline.context import StepContext
from onepipe.pipeline.protocol import ArtifactRecord, RunListener, RunPlan, StepResult


@contextlib.contextmanager
def _step_environment(root: Path, context: StepContext) -> Iterator[None]:
    # Step subprocesses import the project's components (in an image they are on PYTHONPATH
    # too) and read the step context as a pod would: kfp.local passes os.environ down.
    # They run `python -m`, whose sys.path starts with the working directory: run them from
    # the project root, or a `components` package of whatever folder we are in would win.
    old = {name: os.environ.get(name) for name in ("PYTHONPATH", CONTEXT_ENV)}
    path = old["PYTHONPATH"]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(root), *([path] if path else [])])
    os.environ[CONTEXT_ENV] = context.to_json()
    try:
        with contextlib.chdir(root):
            yield
    finally:
        for name, value in old.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


class KfpLocalRunner:
    name = "kfp-local"

    @classmethod
    def from_settings(cls, settings) -> KfpLocalRunner:
        return cls()

    def fully_cached(self, plan: RunPlan) -> bool:
        return False  # no step cache: every run executes every step

    def run(self, plan: RunPlan, listener: RunListener) -> list[StepResult]:
        spec = json_format.ParseDict(
            plan.ir, pipeline_spec_pb2.PipelineSpec(), ignore_unknown_fields=True
        )
        plan.run_dir.mkdir(parents=True, exist_ok=True)
        local.init(
            runner=local.SubprocessRunner(use_venv=False),
            pipeline_root=str(plan.run_dir),
            raise_on_error=False,
        )
        for task in plan.graph.tasks:
            listener.step_started(task.name, "", {})  # output paths are not known up front
        started = time.time()
        error = None
        with _step_environment(plan.project_root, plan.context), warnings.catch_warnings():
            # kfp.local warns that a custom image runs in this interpreter: that is the point here.
            warnings.simplefilter("ignore", RuntimeWarning)
            try:
                pipeline_orchestrator.run_local_pipeline(spec, dict(plan.arguments))
            except Exception as exc:  # kfp.local reports a failed DAG by raising
                error = " ".join(str(exc).split())
        return self._collect(plan, started, error, listener)

    def _collect(
        self, plan: RunPlan, started: float, error: str | None, listener: RunListener
    ) -> list[StepResult]:
        roots = sorted(p for p in plan.run_dir.iterdir() if p.is_dir())
        run_root = roots[-1] if roots else plan.run_dir
        results: list[StepResult] = []
        previous_end = started
        failed = False
        for task in plan.graph.tasks:
            task_root = run_root / task.name
            out_file = task_root / "executor_output.json"
            if failed or not out_file.is_file():
                status = "skipped" if failed else "failed"
                result = StepResult(
                    task.name, status, error=None if failed else (error or "task did not finish")
                )
                failed = True
            else:
                executor_output = json.loads(out_file.read_text())
                end = out_file.stat().st_mtime
                result = StepResult(
                    task.name,
                    "done",
                    duration=max(0.0, end - previous_end),
                    params={
                        k: plan.arguments.get(v[1]) if v[0] == "pipeline" else v[1]
                        for k, v in task.params.items()
                    },
                )
                previous_end = end
                meta = {
                    name: arts["artifacts"][0].get("metadata", {})
                    for name, arts in executor_output.get("artifacts", {}).items()
                }
                for name, schema in task.outputs.items():
                    path = task_root / name
                    md = meta.get(name, {})
                    result.outputs[name] = ArtifactRecord(
                        name, schema, path, content_hash(path, md), md
                    )
            results.append(result)
            listener.step_finished(result)
        return results
