"""What the Seldon backend adds to ``manifests/overlays/<env>`` and ``onepipe up``.

``seldondeployment.yaml``: the environment's SeldonDeployment with placeholder
versions (``deploy --target cluster`` fills in the registry's), its predictors
running as the shared predictor identity unless ``serve.seldon.service_account``
names another.
"""

from __future__ import annotations

from typing import Any

from onepipe.config import Settings
from onepipe.k8s.manifests import MANAGE, PREDICTOR_SA, BackendManifests, Manifest, rule
from onepipe.serve.seldon.render import (
    GROUP,
    KIND,
    PLURAL,
    deployment_name,
    example_manifest,
    validate,
)


def document(settings: Settings) -> dict[str, Any]:
    """The SeldonDeployment of ``manifests/overlays/<env>``, predictors as ``onepipe-predictor``."""
    if settings.serve.seldon.service_account is None:
        seldon = settings.serve.seldon.model_copy(update={"service_account": PREDICTOR_SA})
        serve = settings.serve.model_copy(update={"seldon": seldon})
        settings = settings.model_copy(update={"serve": serve})
    return example_manifest(settings)  # validated against the CRD schema by render()


def render(settings: Settings) -> list[Manifest]:
    return [Manifest("seldondeployment.yaml", [document(settings)])]


MANIFESTS = BackendManifests(
    render=render,
    kinds={KIND: PLURAL},
    validate=validate,
    rules=(  # canary split, promote, rollback; and reading the predictors' state
        rule(GROUP, [PLURAL], MANAGE),
        rule(GROUP, [f"{PLURAL}/status"], ["get"]),
    ),
    routed=lambda settings: (GROUP, PLURAL, deployment_name(settings)),
)
