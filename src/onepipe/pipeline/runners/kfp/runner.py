"""The cluster runner: the compiled IR run by Kubeflow Pipelines through ``kfp.Client``.

``run()`` = ``submit()`` + ``follow()``:

* submit: upload the IR as a version of the pipeline named after the project
  (version ``<git short sha>[-dirty-<diff hash>]``, reused when it already
  exists), find or create the experiment ``<project>-<env>-<user>``, create the
  run with the resolved arguments (``data_ref`` pinned to a commit,
  ``data_store`` the environment's store URI).
* follow: poll ``get_run`` until a final state, then report one ``StepResult``
  per pipeline task from the run details (KFP gives no per-step stream).

Steps run in pods: nothing is cached or read back locally, so ``fully_cached`` is
always False and a step's outputs are the KFP artifact ids (in ``notes``). The uploaded
IR is instrumented (``pod_ir``): each step's pod writes its own MLflow run under the
parent run ``onepipe submit`` opened (pipeline/pod_tracking.py).
"""

from __future__ import annotations

import contextlib
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import kfp
import yaml

from onepipe.config.secrets import mask
from onepipe.errors import ConfigError, OnepipeError, RunFailed
from onepipe.pipeline.pod_tracking import PodTracking, instrument
from onepipe.pipeline.protocol import RunListener, RunPlan, StepResult
from onepipe.tracking.gitinfo import git_state

FINAL_STATES = {"SUCCEEDED", "FAILED", "SKIPPED", "CANCELED"}
# KFP task state -> StepResult.status
TASK_STATUS = {
    "SUCCEEDED": "done",
    "SKIPPED": "skipped",
    "FAILED": "failed",
    "CANCELED": "failed",
    "CANCELING": "failed",
}


@dataclass
class KfpRun:
    """What ``submit`` created: enough to follow the run and to link to it."""

    run_id: str
    run_name: str
    experiment: str
    experiment_id: str
    pipeline: str
    pipeline_id: str
    version: str
    version_id: str
    url: str
    arguments: dict[str, Any]
    state: str = "PENDING"
    mlflow_url: str = ""
    steps: list[StepResult] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "run_name": self.run_name,
            "state": self.state,
            "experiment": self.experiment,
            "experiment_id": self.experiment_id,
            "pipeline": self.pipeline,
            "pipeline_version": self.version,
            "pipeline_version_id": self.version_id,
            "url": self.url,
            "mlflow": self.mlflow_url,
            "arguments": self.arguments,
            "steps": [{"name": s.name, "status": s.status, "error": s.error} for s in self.steps],
        }


def version_name(root: Path) -> str:
    """``<git short sha>[-dirty-<diff hash>]``: the pipeline version a commit of the code is."""
    state = git_state(root)
    if state.commit in ("", "none"):
        raise ConfigError(
            "runner kfp: the project is not a git checkout; a KFP pipeline version is named "
            "by the git commit of its code (git init && git commit first)"
        )
    name = state.commit[:12]
    return f"{name}-dirty-{state.diff_hash[:8]}" if state.dirty else name


def experiment_name(settings: Any) -> str:
    return f"{settings.project}-{settings.env}-{settings.user}"


def mlflow_link(tracking_uri: str, experiment: str, run_name: str) -> str:
    """Where the MLflow UI lists this run's experiment (only for an http(s) tracking server)."""
    if not tracking_uri.startswith(("http://", "https://")):
        return ""
    return (  # a link to show people: no password in it
        f"{mask(tracking_uri).rstrip('/')}/#/experiments?searchFilter="
        f"{quote(f'attributes.run_name = {run_name!r}')}&experiment={quote(experiment)}"
    )


@contextlib.contextmanager
def _quiet_stdout() -> Iterator[None]:
    # kfp.Client prints "Run details: <link>" to stdout; stdout belongs to --json.
    with contextlib.redirect_stdout(sys.stderr):
        yield


class KfpRunner:
    name = "kfp"

    def __init__(
        self,
        settings: Any = None,
        client: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._client = client
        self._sleep = sleep
        self.last: KfpRun | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> KfpRunner:
        return cls(settings)

    # ---- the Runner protocol ---------------------------------------------
    def fully_cached(self, plan: RunPlan) -> bool:
        return False  # the steps run in pods; nothing here knows their cache

    def run(self, plan: RunPlan, listener: RunListener) -> list[StepResult]:
        handle = self.submit(plan)
        return self.follow(handle, plan, listener)

    # ---- the parts ----------------------------------------------------------
    @property
    def namespace(self) -> str:
        return self.settings.kfp.namespace or self.settings.kubernetes.namespace

    def client(self) -> Any:
        if self._client is None:
            if self.settings is None:
                raise ConfigError(
                    "runner kfp needs the environment's settings (host, experiment, user): "
                    "start KFP runs with `onepipe submit`"
                )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # "only works with KFP v2" notice
                self._client = kfp.Client(
                    host=self.settings.kfp.host,
                    namespace=self.namespace,
                    ui_host=self.settings.kfp.ui_host,
                )
        return self._client

    def run_name(self, plan: RunPlan) -> str:
        return (
            f"{plan.graph.name}-{version_name(plan.project_root)}-{time.strftime('%Y%m%d-%H%M%S')}"
        )

    def pod_ir(self, plan: RunPlan) -> dict[str, Any]:
        """The IR as the cluster runs it: each step records itself in MLflow from its pod."""
        s = self.settings
        return instrument(plan.ir, PodTracking.for_settings(s, s.kfp.tracking_uri))

    def submit(
        self,
        plan: RunPlan,
        run_name: str | None = None,
        before_run: Callable[[], None] | None = None,
    ) -> KfpRun:
        """Upload the IR as a pipeline version, create the run; returns without waiting.

        ``before_run`` is called once KFP answered and before the run exists (submit opens
        the MLflow parent run there: KFP being unreachable is the first thing said).
        """
        if self.settings is None:
            self.client()  # raises the ConfigError naming `onepipe submit`
        s = self.settings
        client = self.client()
        pipeline = s.project
        version = version_name(plan.project_root)
        experiment = experiment_name(s)
        run_name = run_name or self.run_name(plan)
        try:
            with _quiet_stdout():
                pipeline_id, version_id = self._upload(client, plan, pipeline, version)
                exp = client.create_experiment(
                    name=experiment,
                    description=f"onepipe runs of {s.project} in {s.env} by {s.user}",
                    namespace=self.namespace,
                )
        except OnepipeError:
            raise
        except Exception as exc:
            raise self._api_error("submitting the run", exc) from None
        if before_run is not None:
            before_run()
        try:
            with _quiet_stdout():
                run = client.run_pipeline(
                    experiment_id=exp.experiment_id,
                    job_name=run_name,
                    params=dict(plan.arguments),
                    pipeline_id=pipeline_id,
                    version_id=version_id,
                    enable_caching=plan.use_cache,
                    service_account=s.kfp.service_account,
                )
        except OnepipeError:
            raise
        except Exception as exc:
            raise self._api_error("submitting the run", exc) from None
        prefix = client._get_url_prefix()
        self.last = KfpRun(
            run_id=run.run_id,
            run_name=run_name,
            experiment=experiment,
            experiment_id=exp.experiment_id,
            pipeline=pipeline,
            pipeline_id=pipeline_id,
            version=version,
            version_id=version_id,
            url=f"{prefix}/#/runs/details/{run.run_id}",
            arguments=dict(plan.arguments),
            state=str(run.state or "PENDING"),
            mlflow_url=mlflow_link(s.tracking_uri, s.experiment_name, run_name),
        )
        return self.last

    def follow(
        self,
        handle: KfpRun,
        plan: RunPlan,
        listener: RunListener,
        on_state: Callable[[str], None] | None = None,
    ) -> list[StepResult]:
        """Poll the run until it ends; one StepResult per pipeline task, in DAG order."""
        client = self.client()
        cfg = self.settings.kfp
        deadline = time.monotonic() + cfg.timeout_s
        for task in plan.graph.tasks:
            listener.step_started(task.name, "", {})  # output paths are not known up front
        last_state = ""
        while True:
            try:
                run = client.get_run(handle.run_id)
            except Exception as exc:
                raise self._api_error(f"following run {handle.run_id}", exc) from None
            state = str(run.state or "PENDING")
            if state != last_state:
                last_state = handle.state = state
                if on_state:
                    on_state(state)
            if state in FINAL_STATES:
                break
            if time.monotonic() > deadline:
                raise RunFailed(
                    f"KFP run {handle.run_id} still {state} after {cfg.timeout_s:.0f}s "
                    f"(kfp.timeout_s); it keeps running: {handle.url}"
                )
            self._sleep(cfg.poll_interval_s)
        handle.steps = self._steps(run, plan, state)
        for step in handle.steps:
            listener.step_finished(step)
        return handle.steps

    def recent_runs(self, limit: int = 10) -> list[dict[str, Any]]:
        """The newest runs of this project/env/user's experiment (none when it does not exist)."""
        client = self.client()
        try:
            with _quiet_stdout():
                try:
                    exp = client.get_experiment(
                        experiment_name=experiment_name(self.settings), namespace=self.namespace
                    )
                except ValueError:  # kfp: "No experiment is found with name ..."
                    return []
                found = client.list_runs(
                    page_size=limit, sort_by="created_at desc", experiment_id=exp.experiment_id
                )
        except Exception as exc:
            raise self._api_error("listing runs", exc) from None
        prefix = client._get_url_prefix()
        return [
            {
                "run_id": r.run_id,
                "name": r.display_name,
                "state": str(r.state or ""),
                "created_at": r.created_at.strftime("%Y-%m-%d %H:%M:%S") if r.created_at else "",
                "pipeline_version_id": (
                    r.pipeline_version_reference.pipeline_version_id
                    if r.pipeline_version_reference
                    else None
                ),
                "url": f"{prefix}/#/runs/details/{r.run_id}",
            }
            for r in (found.runs or [])[:limit]
        ]

    # ---- internals ----------------------------------------------------------
    def _upload(self, client: Any, plan: RunPlan, pipeline: str, version: str) -> tuple[str, str]:
        with tempfile.TemporaryDirectory() as tmp:
            package = Path(tmp) / "pipeline.yaml"
            package.write_text(yaml.safe_dump(self.pod_ir(plan), sort_keys=False))
            pipeline_id = client.get_pipeline_id(pipeline)
            if pipeline_id is None:
                created = client.upload_pipeline(
                    str(package),
                    pipeline_name=pipeline,
                    description=f"onepipe pipeline {plan.pipeline_module} of {pipeline}",
                )
                pipeline_id = created.pipeline_id
            existing = self._find_version(client, pipeline_id, version)
            if existing:
                return pipeline_id, existing
            uploaded = client.upload_pipeline_version(
                str(package),
                pipeline_version_name=version,
                pipeline_id=pipeline_id,
                description=f"git {version}",
            )
            return pipeline_id, uploaded.pipeline_version_id

    @staticmethod
    def _find_version(client: Any, pipeline_id: str, version: str) -> str | None:
        flt = json.dumps(
            {"predicates": [{"operation": "EQUALS", "key": "display_name", "stringValue": version}]}
        )
        found = client.list_pipeline_versions(pipeline_id=pipeline_id, filter=flt)
        for v in found.pipeline_versions or []:
            if v.display_name == version:
                return v.pipeline_version_id
        return None

    @staticmethod
    def _steps(run: Any, plan: RunPlan, run_state: str) -> list[StepResult]:
        details = (run.run_details.task_details if run.run_details else None) or []
        by_name = {t.display_name: t for t in details if t.display_name}
        results: list[StepResult] = []
        for task in plan.graph.tasks:
            t = by_name.get(task.name)
            if t is None:
                status = "skipped" if run_state != "SUCCEEDED" else "done"
                results.append(StepResult(task.name, status, notes={"kfp_task": None}))
                continue
            status = TASK_STATUS.get(str(t.state), "failed")
            duration = 0.0
            if t.start_time and t.end_time:
                duration = max(0.0, (t.end_time - t.start_time).total_seconds())
            error = None
            if status == "failed":
                error = (t.error.message if t.error and t.error.message else None) or str(t.state)
            outputs = {
                name: list(arts.artifact_ids or []) for name, arts in (t.outputs or {}).items()
            }
            results.append(
                StepResult(
                    task.name,
                    status,
                    duration=duration,
                    error=error,
                    notes={"kfp_task_id": t.task_id, "pod": t.pod_name, "artifact_ids": outputs},
                )
            )
        if run_state != "SUCCEEDED" and not any(r.status == "failed" for r in results):
            first = next(
                (r for r in results if r.status != "done"), results[-1] if results else None
            )
            if first is not None:
                first.status = "failed"
                first.error = first.error or f"run ended {run_state}"
        return results

    def _api_error(self, doing: str, exc: Exception) -> OnepipeError:
        status = getattr(exc, "status", None)
        reason = getattr(exc, "reason", None) or type(exc).__name__
        body = " ".join(str(getattr(exc, "body", "") or exc).split())[:300]
        host = self.settings.kfp.host if self.settings else "?"
        where = f"KFP at {host}"
        if status:
            return OnepipeError(f"{where}: {doing} failed: HTTP {status} {reason}: {body}")
        return OnepipeError(f"{where}: {doing} failed: {reason}: {body}")
