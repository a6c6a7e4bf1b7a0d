"""Render one rollout step as an InferenceService, checked against the CRD schema.

The predictor serves the step's version (the champion, or the challenger of a canary)
with ``modelFormat: mlflow`` on the ``kserve-mlserver`` ClusterServingRuntime over the
V2 protocol; KServe's storage initializer fetches ``storageUri``, the registry's
artifact location of that version. ``canaryTrafficPercent`` is the share its revision
gets (rollout.py). The object's annotations record the champion and the challenger:
KServe keeps only the latest spec, so they are how the rest of the split is known. They
hold versions only, never the split, as KServe copies them into the revision template
and a changed template is a new revision: a new share must not restart the pods.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onepipe.history import DeploymentState
from onepipe.k8s.manifests import managed_labels
from onepipe.serve.kserve.names import (
    CHALLENGER,
    CHAMPION,
    DEPLOYMENT_MODE,
    GROUP,
    KIND,
    MODEL,
    SERVED_VERSION,
    VERSION,
    deployment_name,
    monitor_url,
)
from onepipe.serve.kserve.rollout import Step
from onepipe.serve.kserve.schema import validate
from onepipe.tracking.registry import ModelRef

if TYPE_CHECKING:
    from onepipe.config import Settings

MODEL_FORMAT = "mlflow"
PROTOCOL = "v2"
# Schemes of MLflow's own stores: KServe's storage initializer cannot fetch them.
MLFLOW_ONLY_SCHEMES = ("mlflow-artifacts:", "models:", "runs:", "dbfs:")


def _model(settings: Settings, version: str, ref: ModelRef) -> dict[str, Any]:
    cfg = settings.serve.kserve
    model: dict[str, Any] = {
        "modelFormat": {"name": MODEL_FORMAT},
        "runtime": cfg.runtime,
        "protocolVersion": PROTOCOL,
        "storageUri": ref.source,
        # MLServer answers with this model_version (the V2 response's field).
        "env": [{"name": "MLSERVER_MODEL_VERSION", "value": version}],
    }
    resources = {k: dict(v) for k, v in cfg.resources.model_dump().items() if v}
    if resources:
        model["resources"] = resources
    return model


def render(settings: Settings, step: Step, models: dict[str, ModelRef]) -> dict[str, Any]:
    cfg = settings.serve.kserve
    state, version = step.state, step.version
    predictor: dict[str, Any] = {
        "minReplicas": cfg.min_replicas,
        "canaryTrafficPercent": step.latest_percent,
        "annotations": {SERVED_VERSION: version},
        "logger": {
            "mode": cfg.logger_mode,
            "url": monitor_url(settings),
            "metadataAnnotations": [SERVED_VERSION],
        },
        "model": _model(settings, version, models[version]),
    }
    if cfg.max_replicas:
        predictor["maxReplicas"] = cfg.max_replicas
    if cfg.service_account:
        predictor["serviceAccountName"] = cfg.service_account
    obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": deployment_name(settings),
            "namespace": settings.kubernetes.namespace,
            "labels": managed_labels(settings),
            "annotations": {
                DEPLOYMENT_MODE: cfg.deployment_mode,
                MODEL: state.model,
                CHAMPION: state.champion,
                # Always written, empty when none: an apply that left it out would keep a
                # stale one wherever apply merges (emulators) rather than owns fields.
                CHALLENGER: state.challenger or "",
            },
        },
        "spec": {"predictor": predictor},
    }
    validate(obj)
    return obj


def storage_problem(ref: ModelRef) -> str | None:
    """Why KServe cannot fetch this version's artifacts, or None."""
    if ref.source.startswith(MLFLOW_ONLY_SCHEMES) or "://" not in ref.source:
        return (
            f"version {ref.version}: its artifact location {ref.source!r} is not a URI KServe's "
            "storage initializer fetches (expected s3://, gs://, https://, pvc:// ...: set "
            "tracking.artifact_location to an object store)"
        )
    return None


def example_manifest(settings: Settings) -> dict[str, Any]:
    """The environment's InferenceService with a placeholder version (for ``manifests/``).

    The champion alone: a canary cannot be the first revision (KServe would route it
    everything). ``deploy --target kserve`` fills in the registry's versions and
    artifact locations.
    """
    name = settings.model_name
    loc = settings.tracking.artifact_location
    base = loc.rstrip("/") if "://" in loc else "<registry-artifact-location>"  # no machine paths
    ref = ModelRef(name, "champion", "", f"{base}/<champion-run-id>/artifacts/model", ("champion",))
    return render(settings, Step(DeploymentState(name, "champion"), 100), {"champion": ref})
