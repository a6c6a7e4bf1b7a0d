"""A step that runs in a pod records itself in MLflow, as the in-process tracker would.

``onepipe submit`` instruments the compiled IR (``instrument``): every container starts
``python3 -m onepipe.steps.pod`` instead of KFP's ``kfp.dsl.executor_main``, with the KFP
run id as an argument (the ``{{$.pipeline_job_uuid}}`` placeholder) and the environment's
tracking facts in ``ONEPIPE_POD_TRACKING``. That entry point reads its environment once,
runs KFP's executor unchanged, then hands what it learned here as values (``PodTracking``,
the executor input and output): ``record_step`` writes the step's run with the same tags,
params and metrics an in-process run writes (``tracker.write_step_run``), and on the model
step logs and registers the model with the same version tags plus the image and KFP run.

Where the run goes: into ``MLFLOW_RUN_ID`` when the KFP installation's own MLflow
integration opened a nested run for the task (nothing is logged twice); else a new run
under ``ONEPIPE_PARENT_RUN_ID``; else under the run tagged ``onepipe.kfp.run_id`` with
this KFP run's id (the parent ``onepipe submit`` opened, found by the id KFP gives the pod).
MLflow is imported only by the functions that write.
"""

from __future__ import annotations

import copy
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from onepipe.errors import ConfigError
from onepipe.pipeline.cache import content_hash
from onepipe.pipeline.protocol import ArtifactRecord, StepResult
from onepipe.pipeline.tracker import write_step_run
from onepipe.tracking.client import client_for
from onepipe.tracking.registry import register
from onepipe.tracking.target import TrackingTarget

ENV_VAR = "ONEPIPE_POD_TRACKING"  # JSON: the environment's tracking facts (static in the IR)
PARENT_ENV = "ONEPIPE_PARENT_RUN_ID"  # optional: the parent run, when the platform knows it
ENTRY_MODULE = "onepipe.steps.pod"
KFP_ENTRY = "kfp.dsl.executor_main"
KFP_RUN_ARG = "--onepipe-kfp-run-id"
INT_PARAMS_ARG = "--onepipe-int-params"
KFP_RUN_PLACEHOLDER = "{{$.pipeline_job_uuid}}"
TASK_ARG = "--onepipe-task"
TASK_PLACEHOLDER = "{{$.pipeline_task_name}}"
PARENT_WAIT_S = 20.0  # submit tags its parent run right after KFP accepts the run


@dataclass(frozen=True)
class PodTracking:
    """What a step's process knows of where to record itself, read at its entry point."""

    tracking_uri: str
    experiment_name: str
    model_name: str
    model_step: str
    model_output: str
    env: str
    config_hash: str
    image: str = ""
    parent_run_id: str | None = None
    run_id: str | None = None  # MLFLOW_RUN_ID: the KFP integration's nested run for this task
    kfp_run_id: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_settings(cls, settings: Any, tracking_uri: str | None = None) -> dict[str, str]:
        """The static part, as the JSON a pod finds in ``ONEPIPE_POD_TRACKING``."""
        return {
            "tracking_uri": tracking_uri or settings.tracking_uri,
            "experiment_name": settings.experiment_name,
            "model_name": settings.model_name,
            "model_step": settings.model.step,
            "model_output": settings.model.output,
            "env": settings.env,
            "config_hash": settings.config_hash,
            "image": settings.image.pinned,
        }

    @classmethod
    def from_environment(cls, environ: Mapping[str, str], kfp_run_id: str) -> PodTracking | None:
        """None when the pod was given nothing to record to (a kfp-local run, a bare pod)."""
        text = environ.get(ENV_VAR)
        nested = environ.get("MLFLOW_RUN_ID") or None
        if not text and not nested:
            return None
        try:
            data = json.loads(text) if text else {}
        except ValueError:
            raise ConfigError(
                f"{ENV_VAR}: not JSON ({text[:80]!r}); expected the object `onepipe submit` sets"
            ) from None
        uri = (environ.get("MLFLOW_TRACKING_URI") if nested else None) or data.get("tracking_uri")
        if not uri:
            raise ConfigError(
                f"{ENV_VAR}: no tracking_uri (and no MLFLOW_TRACKING_URI beside MLFLOW_RUN_ID)"
            )
        return cls(
            tracking_uri=uri,
            experiment_name=data.get("experiment_name", ""),
            model_name=data.get("model_name", ""),
            model_step=data.get("model_step", ""),
            model_output=data.get("model_output", "model"),
            env=data.get("env", ""),
            config_hash=data.get("config_hash", ""),
            image=data.get("image", ""),
            parent_run_id=environ.get(PARENT_ENV) or None,
            run_id=nested,
            kfp_run_id=kfp_run_id if kfp_run_id != KFP_RUN_PLACEHOLDER else "",
        )

    def target(self, config_hash: str | None = None) -> TrackingTarget:
        return TrackingTarget(
            tracking_uri=self.tracking_uri,
            experiment_name=self.experiment_name,
            artifact_location="",
            outbox_dir="",
            model_name=self.model_name,
            env=self.env,
            config_hash=config_hash or self.config_hash,
        )


# ---- the IR, instrumented (submit side) ---------------------------------------------------
def instrument(ir: dict[str, Any], tracking: Mapping[str, str]) -> dict[str, Any]:
    """A copy of the IR whose steps record themselves: onepipe's entry point around KFP's
    executor, the KFP run id as an argument, ``tracking`` as ``ONEPIPE_POD_TRACKING``.

    Nothing here changes per run, so KFP's own cache sees the same spec every time.
    """
    out = copy.deepcopy(ir)
    value = json.dumps(dict(tracking), sort_keys=True)
    int_params = _int_params(out)
    for label, executor in out.get("deploymentSpec", {}).get("executors", {}).items():
        container = executor.get("container")
        if not container or not any(KFP_ENTRY in c for c in container.get("command", [])):
            continue
        # ``python3 -m onepipe.steps.pod -m kfp.dsl.executor_main ...``: ours, running KFP's.
        container["command"] = [
            c.replace(f"-m {KFP_ENTRY}", f"-m {ENTRY_MODULE} -m {KFP_ENTRY}")
            for c in container["command"]
        ]
        args = [
            *container.get("args", []),
            *(KFP_RUN_ARG, KFP_RUN_PLACEHOLDER, TASK_ARG, TASK_PLACEHOLDER),
        ]
        if int_params.get(label):
            args += [INT_PARAMS_ARG, ",".join(sorted(int_params[label]))]
        container["args"] = args
        env = [e for e in container.get("env", []) if e.get("name") != ENV_VAR]
        container["env"] = [*env, {"name": ENV_VAR, "value": value}]
    return out


def _int_params(ir: dict[str, Any]) -> dict[str, set[str]]:
    """executor label -> its integer parameters (JSON carries every number as a float)."""
    found: dict[str, set[str]] = {}
    for comp in ir.get("components", {}).values():
        label = comp.get("executorLabel")
        params = comp.get("inputDefinitions", {}).get("parameters", {})
        if label:
            found[label] = {
                n for n, p in params.items() if p.get("parameterType") == "NUMBER_INTEGER"
            }
    return found


# ---- the step's record (pod side) ---------------------------------------------------------
def step_result(
    executor_input: dict[str, Any],
    executor_output: dict[str, Any],
    *,
    task: str,
    duration: float,
    int_params: set[str],
    error: str | None = None,
) -> StepResult:
    """The StepResult an in-process run would have built for this step."""
    inputs = executor_input.get("inputs", {})
    params = {}
    for name, value in (inputs.get("parameterValues") or {}).items():
        params[name] = int(value) if name in int_params and isinstance(value, float) else value
    input_hashes = {}
    for name, arts in (inputs.get("artifacts") or {}).items():
        art = (arts.get("artifacts") or [{}])[0]
        meta = _as_written(art.get("metadata") or {})
        input_hashes[name] = content_hash(_local(art.get("uri", "")), meta)
    written = {
        name: (arts.get("artifacts") or [{}])[0].get("metadata") or {}
        for name, arts in (executor_output.get("artifacts") or {}).items()
    }
    outputs = {}
    for name, arts in (executor_input.get("outputs", {}).get("artifacts") or {}).items():
        art = (arts.get("artifacts") or [{}])[0]
        schema = art.get("type", {}).get("schemaTitle", "system.Artifact")
        path = _local(art.get("uri", ""))
        meta = written.get(name, {})
        outputs[name] = ArtifactRecord(name, schema, path, content_hash(path, meta), meta)
    return StepResult(
        task,
        "failed" if error else "done",
        duration=duration,
        params=params,
        inputs=input_hashes,
        outputs={} if error else outputs,
        error=error,
    )


def _as_written(value: Any) -> Any:
    """An input's metadata as its producer wrote it, so its hash is the producer's output
    hash: KFP hands metadata on as a protobuf Struct, where every number is a float."""
    if isinstance(value, dict):
        return {k: _as_written(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_as_written(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _local(uri: str) -> Path:
    """Where an artifact URI is mounted in the container (KFP's own rule: gs:// -> /gcs/...)."""
    for scheme, mount in (("gs://", "/gcs/"), ("minio://", "/minio/"), ("s3://", "/s3/")):
        if uri.startswith(scheme):
            return Path(mount + uri[len(scheme) :])
    return Path(uri)


def find_parent(
    client: Any,
    pod: PodTracking,
    *,
    wait_s: float = PARENT_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> str:
    """The run ``onepipe submit`` opened for this KFP run (tagged with its id)."""
    if pod.parent_run_id:
        return pod.parent_run_id
    if not pod.kfp_run_id:
        raise ConfigError(
            f"no parent run: neither {PARENT_ENV} nor a KFP run id ({KFP_RUN_ARG}) was given"
        )
    exp = client.get_experiment_by_name(pod.experiment_name)
    deadline = time.monotonic() + wait_s
    while True:
        if exp is not None:
            found = client.search_runs(
                [exp.experiment_id],
                f"tags.`onepipe.kfp.run_id` = '{pod.kfp_run_id}' and tags.`onepipe.kind` = 'pipeline'",
                max_results=1,
            )
            if found:
                return found[0].info.run_id
        if time.monotonic() > deadline:
            raise ConfigError(
                f"no MLflow run tagged onepipe.kfp.run_id={pod.kfp_run_id} in experiment "
                f"{pod.experiment_name!r} after {wait_s:.0f}s (expected `onepipe submit` to open it)"
            )
        sleep(2.0)
        exp = exp or client.get_experiment_by_name(pod.experiment_name)


def record_step(pod: PodTracking, result: StepResult) -> str:
    """Write the step's run (and on the model step its registered model); returns the run id."""
    client = client_for(pod.target())
    pod_tags = {}  # what only a pod knows; the rest is what an in-process run writes
    if pod.kfp_run_id:
        pod_tags["onepipe.kfp.run_id"] = pod.kfp_run_id
    if pod.image:
        pod_tags["onepipe.image"] = pod.image
    if pod.run_id:  # KEP-12862: the installation opened this task's run; log into it
        parent = None
        experiment = client.get_run(pod.run_id).info.experiment_id
    else:
        parent = find_parent(client, pod)
        experiment = client.get_run(parent).info.experiment_id
    config_hash = pod.config_hash
    if parent:  # the run's own config hash wins over the one stamped into the pipeline version
        config_hash = client.get_run(parent).data.tags.get("onepipe.config_hash") or config_hash
    run_id = write_step_run(
        client, experiment, result, parent_run_id=parent, run_id=pod.run_id, extra_tags=pod_tags
    )
    model = result.outputs.get(pod.model_output) if result.name == pod.model_step else None
    if model is not None and result.status == "done":
        ref, _ = register(pod.target(config_hash), run_id, model.path, model.hash, tags=pod_tags)
        client.set_tag(run_id, "onepipe.model", f"{ref.name}/{ref.version}")
        if parent:
            client.set_tag(parent, "onepipe.model", f"{ref.name}/{ref.version}")
    return run_id
