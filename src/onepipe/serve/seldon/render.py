"""Render a ``DeploymentState`` as a SeldonDeployment and check it against the CRD schema.

Predictor ``main`` serves the champion, ``canary`` the challenger, split by
``traffic`` (or ``shadow: true``: a copy of every request, never an answer).
Both run the shared training image, which has MLServer, ``mlserver-mlflow`` and
the model's dependencies baked in: the pod starts ``mlserver`` on the model the
storage initializer downloaded from the registry's artifact location, so no
conda environment is built at pod start (what the stock MLFLOW_SERVER does).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onepipe.history import DeploymentState
from onepipe.k8s.manifests import managed_labels
from onepipe.k8s.schema import SchemaError, validate_crd
from onepipe.tracking.registry import ModelRef

if TYPE_CHECKING:
    from onepipe.config import Settings

GROUP, VERSION, PLURAL, KIND = (
    "machinelearning.seldon.io",
    "v1",
    "seldondeployments",
    "SeldonDeployment",
)
SCHEMA = Path(__file__).resolve().parent / "schemas" / "seldondeployment-v1.schema.json.gz"
STATE_ANNOTATION = "onepipe.dev/deployment-state"
MODEL_DIR = "/mnt/models"  # where Seldon's storage initializer puts modelUri
HTTP_PORT, GRPC_PORT = 9000, 9500  # the ports Seldon's v2 protocol expects of a model server


class SeldonSchemaError(SchemaError):
    """A generated SeldonDeployment does not match the CRD schema."""


def deployment_name(settings: Settings) -> str:
    return settings.serve.seldon.name or settings.model_name


def _predictor(
    settings: Settings, name: str, ref: ModelRef, alias: str, traffic: int, shadow: bool = False
) -> dict[str, Any]:
    cfg = settings.serve.seldon
    version = str(ref.version)
    env = [
        {"name": "MLSERVER_MODEL_IMPLEMENTATION", "value": "mlserver_mlflow.MLflowRuntime"},
        {"name": "MLSERVER_MODEL_NAME", "value": ref.name},
        {"name": "MLSERVER_MODEL_VERSION", "value": version},
        {"name": "MLSERVER_MODEL_URI", "value": MODEL_DIR},
        {"name": "MLSERVER_HTTP_PORT", "value": str(HTTP_PORT)},
        {"name": "MLSERVER_GRPC_PORT", "value": str(GRPC_PORT)},
        {"name": "MLSERVER_LOAD_MODELS_AT_STARTUP", "value": "true"},
    ]
    container: dict[str, Any] = {
        "name": ref.name,
        "image": settings.image.training,
        "command": ["mlserver", "start", MODEL_DIR],
        "env": env,
        "readinessProbe": {
            "httpGet": {"path": "/v2/health/ready", "port": HTTP_PORT},
            "initialDelaySeconds": 5,
            "periodSeconds": 5,
            "failureThreshold": 60,
        },
    }
    graph: dict[str, Any] = {
        "name": ref.name,
        "type": "MODEL",
        "modelUri": ref.source,
        "children": [],
        "logger": {"mode": cfg.logger_mode, "url": cfg.monitor_url},
    }
    if cfg.service_account:
        graph["serviceAccountName"] = cfg.service_account
    labels = {
        "onepipe.dev/model": ref.name,
        "onepipe.dev/model-version": version,
        "onepipe.dev/alias": alias,
    }
    pred: dict[str, Any] = {
        "name": name,
        "replicas": cfg.replicas,
        "traffic": traffic,
        "labels": dict(labels),
        "graph": graph,
        "componentSpecs": [
            {"metadata": {"labels": dict(labels)}, "spec": {"containers": [container]}}
        ],
    }
    if shadow:
        pred["shadow"] = True
    return pred


def render(
    settings: Settings, state: DeploymentState, models: dict[str, ModelRef]
) -> dict[str, Any]:
    predictors = [
        _predictor(
            settings,
            "main",
            models[state.champion],
            "champion",
            100 if state.shadow or not state.challenger else 100 - state.canary,
        )
    ]
    if state.challenger:
        predictors.append(
            _predictor(
                settings,
                "canary",
                models[state.challenger],
                "challenger",
                0 if state.shadow else state.canary,
                shadow=state.shadow,
            )
        )
    obj = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": deployment_name(settings),
            "namespace": settings.kubernetes.namespace,
            "labels": managed_labels(settings),
            "annotations": {STATE_ANNOTATION: json.dumps(state.to_dict(), sort_keys=True)},
        },
        "spec": {"name": deployment_name(settings), "protocol": "v2", "predictors": predictors},
    }
    validate(obj)
    return obj


def state_of(obj: dict[str, Any]) -> DeploymentState | None:
    raw = ((obj.get("metadata") or {}).get("annotations") or {}).get(STATE_ANNOTATION)
    return DeploymentState.from_dict(json.loads(raw)) if raw else None


def validate(obj: dict[str, Any]) -> None:
    """Raise ``SeldonSchemaError`` naming the first wrong field, checked against the v1 CRD schema."""
    validate_crd(obj, SCHEMA, "the v1.17.1 CRD schema", SeldonSchemaError)


def example_manifest(settings: Settings) -> dict[str, Any]:
    """The environment's SeldonDeployment with placeholder versions (for ``manifests/``).

    ``deploy --target cluster`` fills in the registry's versions and artifact locations.
    """
    name = settings.model_name
    loc = settings.tracking.artifact_location
    base = loc.rstrip("/") if "://" in loc else "<registry-artifact-location>"  # no machine paths
    refs = {
        alias: ModelRef(name, alias, "", f"{base}/<{alias}-run-id>/artifacts/model", (alias,))
        for alias in ("champion", "challenger")
    }
    state = DeploymentState(
        name,
        "champion",
        "challenger",
        settings.serve.canary,
        settings.serve.shadow,
        settings.serve.sticky,
    )
    return render(settings, state, refs)
