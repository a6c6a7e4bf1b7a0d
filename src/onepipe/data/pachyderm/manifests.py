"""What the Pachyderm backend adds to ``manifests/overlays/<env>`` and ``onepipe up``:
the retraining pipeline (``pipeline``), as a ConfigMap and as the JSON ``pachctl`` reads."""

from __future__ import annotations

from onepipe.config import Settings
from onepipe.data.pachyderm.pipeline import pipeline_request, request_configmap, request_json
from onepipe.k8s.manifests import BackendManifests, Manifest


def render(settings: Settings) -> list[Manifest]:
    request = pipeline_request(settings)
    return [
        Manifest(
            "pachyderm-pipeline.yaml",
            [request_configmap(settings, request)],
            beside={"pachyderm-pipeline.json": request_json(request)},
        )
    ]


MANIFESTS = BackendManifests(render=render)
