"""What the KServe backend adds to ``manifests/overlays/<env>`` and ``onepipe up``.

``inferenceservice.yaml``: the environment's InferenceService, its champion a
placeholder version (``deploy --target kserve`` fills in the registry's), its predictor
running as the shared predictor identity unless ``serve.kserve.service_account`` names
another.
"""

from __future__ import annotations

from typing import Any

from onepipe.config import Settings
from onepipe.k8s.manifests import MANAGE, PREDICTOR_SA, BackendManifests, Manifest, rule
from onepipe.serve.kserve.names import GROUP, KIND, PLURAL, deployment_name
from onepipe.serve.kserve.render import example_manifest
from onepipe.serve.kserve.schema import validate

FILE = "inferenceservice.yaml"


def document(settings: Settings) -> dict[str, Any]:
    """The InferenceService of ``manifests/overlays/<env>``, its predictor as ``onepipe-predictor``."""
    if settings.serve.kserve.service_account is None:
        kserve = settings.serve.kserve.model_copy(update={"service_account": PREDICTOR_SA})
        serve = settings.serve.model_copy(update={"kserve": kserve})
        settings = settings.model_copy(update={"serve": serve})
    return example_manifest(settings)  # validated against the CRD schema by render()


def render(settings: Settings) -> list[Manifest]:
    return [Manifest(FILE, [document(settings)])]


MANIFESTS = BackendManifests(
    render=render,
    kinds={KIND: PLURAL},
    validate=validate,
    rules=(  # roll out, split, promote and roll back; read the revisions' readiness
        rule(GROUP, [PLURAL], MANAGE),
        rule(GROUP, [f"{PLURAL}/status"], ["get"]),
    ),
    routed=lambda settings: (GROUP, PLURAL, deployment_name(settings)),
)
