"""Record a pipeline run in MLflow: a parent run, a child run per step, lineage tags on all.

Tag names are the contract `onepipe lineage` (tracking/lineage.py) and `reproduce`
read back; they all live under the ``onepipe.`` prefix. MLflow is imported inside the
methods that write: a fully cached run loads this module and must not pay MLflow's import.
"""

from __future__ import annotations

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
        from mlflow.entities import Metric, Param  # lazy: see the module docstring

        if result.status == "skipped":
            return
        now = int(time.time() * 1000)
        tags = {
            "mlflow.parentRunId": self.run_id,
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
        run = self.client.create_run(self.experiment_id, tags=tags, run_name=result.name)
        metrics = [Metric(k, v, now, 0) for k, v in result.metrics.items()]
        metrics.append(Metric("duration_s", result.duration, now, 0))
        self.client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=[Param(k, str(v)) for k, v in sorted(result.params.items())],
        )
        status = "FAILED" if result.status == "failed" else "FINISHED"
        self.client.set_terminated(run.info.run_id, status=status)
        self.step_runs[result.name] = run.info.run_id
        if result.status == "done":
            self.cache.annotate(result.cache_key, run.info.run_id)

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
