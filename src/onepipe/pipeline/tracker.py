"""Record a pipeline run in MLflow: a parent run, a child run per step, lineage tags on all.

Tag names are the contract `onepipe lineage` (tracking/lineage.py) and `reproduce`
read back; they all live under the ``onepipe.`` prefix. MLflow is imported inside the
methods that write: a fully cached run loads this module and must not pay MLflow's import.
"""

from __future__ import annotations

import contextlib
import json
import sys
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from onepipe.config import Settings
from onepipe.config.secrets import mask
from onepipe.pipeline.cache import StepCache
from onepipe.pipeline.protocol import StepResult
from onepipe.tracking import leases
from onepipe.tracking.client import client_for, experiment_id
from onepipe.tracking.gitinfo import GitState
from onepipe.tracking.target import TrackingTarget
from onepipe.version import __version__

# The model step's learning-curve output: steps.history.OUTPUT_NAME (steps imports this
# package, so the name is repeated here rather than imported).
HISTORY_OUTPUT = "history"
KEY_PACKAGES = ("mlflow", "kfp", "scikit-learn", "pandas", "numpy", "optuna", "mlserver")


def package_versions() -> dict[str, str]:
    out = {}
    for name in KEY_PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            pass
    return out


def lineage_tags(
    settings: Settings, git: GitState, runner: str, data_refs: dict[str, str], command: str
) -> dict[str, str]:
    tags = {
        **git.tags(),
        "onepipe.kind": "pipeline",
        "onepipe.project": settings.project,
        "onepipe.env": settings.env,
        "onepipe.variant": settings.variant or "",
        "onepipe.user": settings.user,
        "onepipe.config_hash": settings.config_hash,
        "onepipe.runner": runner,
        "onepipe.command": mask(command),
        "onepipe.data_commits": json.dumps(sorted(data_refs.values())),
        "onepipe.version": __version__,
        "onepipe.python": sys.version.split()[0],
        "mlflow.user": settings.user,
    }
    for param, ref in data_refs.items():
        tags[f"onepipe.data.{param}"] = ref
    for pkg, ver in package_versions().items():
        tags[f"onepipe.pkg.{pkg}"] = ver
    return tags


class MlflowTracker:
    """A ``RunListener`` that mirrors the run into MLflow as it happens."""

    def __init__(
        self, target: TrackingTarget, cache: StepCache, *, parent_run_id: str | None = None
    ) -> None:
        self.target = target
        self.client = client_for(target)
        self.cache = cache
        self.experiment_id = experiment_id(target)
        self.outer_parent = parent_run_id
        self.run_id = ""
        self.step_runs: dict[str, str] = {}

    def start(
        self, *, run_name: str, params: dict[str, Any], tags: dict[str, str], ir: dict[str, Any]
    ) -> str:
        from mlflow.entities import Param  # lazy: see the module docstring

        all_tags = {"mlflow.runName": run_name, **tags}
        if self.outer_parent:
            all_tags["mlflow.parentRunId"] = self.outer_parent
        run = self.client.create_run(self.experiment_id, tags=all_tags, run_name=run_name)
        self.run_id = run.info.run_id
        # Killed before finish(), the run is closed as KILLED by the next command (leases.py).
        leases.hold(self.target.outbox_dir, self.target.tracking_uri, self.run_id)
        self.client.log_batch(
            self.run_id, params=[Param(k, str(v)) for k, v in sorted(params.items())]
        )
        self.client.log_dict(self.run_id, self.target.config, "onepipe/config.json")
        self.client.log_dict(self.run_id, ir, "onepipe/pipeline.yaml")
        return self.run_id

    # RunListener -----------------------------------------------------------
    def step_started(self, task: str, cache_key: str, outputs: Mapping[str, Path]) -> None:
        pass

    def step_finished(self, result: StepResult) -> None:
        if result.status == "skipped":
            return
        run_id = write_step_run(self.client, self.experiment_id, result, parent_run_id=self.run_id)
        self.step_runs[result.name] = run_id
        if result.status == "done":
            self.cache.annotate(result.cache_key, run_id)

    # ------------------------------------------------------------------------
    def finish(self, *, metrics: dict[str, float], tags: dict[str, str], failed: bool) -> None:
        from mlflow.entities import Metric, RunTag  # lazy: see the module docstring

        now = int(time.time() * 1000)
        self.client.log_batch(
            self.run_id,
            metrics=[Metric(k, v, now, 0) for k, v in metrics.items()],
            tags=[RunTag(k, v) for k, v in tags.items()],
        )
        self.client.set_terminated(self.run_id, status="FAILED" if failed else "FINISHED")
        leases.release(self.target.outbox_dir, self.run_id)

    def abandon(self, status: str) -> None:
        """The run stopped before it finished (Ctrl-C: KILLED, a crash: FAILED)."""
        if not self.run_id:
            return
        try:
            self.client.set_terminated(self.run_id, status=status)
        except Exception:  # noqa: BLE001 - the lease stays: the next command closes the run
            return
        leases.release(self.target.outbox_dir, self.run_id)


def step_tags(result: StepResult) -> dict[str, str]:
    """The tags of a step's run: what ran, from which cache entry, on which artifacts."""
    tags = {
        "mlflow.runName": result.name,
        "onepipe.kind": "step",
        "onepipe.step": result.name,
        "onepipe.cache_key": result.cache_key,
        "onepipe.cache_hit": str(result.status == "cached").lower(),
        "onepipe.status": result.status,
    }
    if result.source_run:
        tags["onepipe.cache_source_run"] = result.source_run
    if result.error:
        tags["onepipe.error"] = result.error[:5000]
    for name, art in result.outputs.items():
        tags[f"onepipe.output.{name}"] = art.hash
    for name, h in result.inputs.items():
        tags[f"onepipe.input.{name}"] = h
    return tags


def history_rows(result: StepResult) -> list[dict[str, float]]:
    """The per-stage learning curve the step wrote (``steps.History``), one dict a stage."""
    art = result.outputs.get(HISTORY_OUTPUT)
    if art is None or not art.path.is_file():
        return []
    rows = []
    for line in art.path.read_text(encoding="utf-8").splitlines():
        with contextlib.suppress(ValueError):
            row = json.loads(line)
            if isinstance(row, dict) and isinstance(row.get("step"), int):
                rows.append(row)
    return rows


def write_step_run(
    client: Any,
    experiment: str,
    result: StepResult,
    *,
    parent_run_id: str | None,
    run_id: str | None = None,
    extra_tags: Mapping[str, str] | None = None,
) -> str:
    """One step's MLflow run: tags, params, its scalar metrics, ``duration_s`` and the
    per-stage history as metric steps; the same wherever the step ran.

    ``run_id`` names a run that already exists (the nested run a KFP installation's own
    MLflow integration opened for the task): it is written to, not ended. Otherwise a
    run is created under ``parent_run_id`` and ended with the step's status.
    """
    from mlflow.entities import Metric, Param, RunTag  # lazy: see the module docstring

    now = int(time.time() * 1000)
    tags = {**step_tags(result), **(extra_tags or {})}
    if parent_run_id:
        tags["mlflow.parentRunId"] = parent_run_id
    if run_id is None:
        run_id = client.create_run(experiment, tags=tags, run_name=result.name).info.run_id
        own = True
    else:
        tags.pop("mlflow.runName", None)  # the integration named its run after the task
        client.log_batch(run_id, tags=[RunTag(k, v) for k, v in tags.items()])
        own = False
    metrics = [Metric(k, v, now, 0) for k, v in result.metrics.items()]
    metrics.append(Metric("duration_s", result.duration, now, 0))
    for row in history_rows(result):
        metrics += [Metric(k, float(v), now, row["step"]) for k, v in row.items() if k != "step"]
    params = [Param(k, str(v)) for k, v in sorted(result.params.items())]
    for start in range(0, max(len(metrics), 1), 900):  # MLflow takes 1000 values a batch
        client.log_batch(
            run_id, metrics=metrics[start : start + 900], params=params if start == 0 else []
        )
    if own:
        client.set_terminated(run_id, status="FAILED" if result.status == "failed" else "FINISHED")
    return run_id
