"""The names this backend writes and reads: the kind, its annotations, where its events go.

Kept apart from ``render`` (which loads the CRD schema) so the monitor's intake and the
status readers import nothing heavy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from onepipe.config import Settings

GROUP, VERSION, PLURAL, KIND = (
    "serving.kserve.io",
    "v1beta1",
    "inferenceservices",
    "InferenceService",
)
DEPLOYMENT_MODE = "serving.kserve.io/deploymentMode"
# On the object: what the split is between (KServe's spec names only the latest version).
MODEL, CHAMPION, CHALLENGER = "onepipe.dev/model", "onepipe.dev/champion", "onepipe.dev/challenger"
# On the predictor (so on each revision's pods): the version that revision serves. The
# request logger sends it with every event (logger.metadataAnnotations): ce-annotations.
SERVED_VERSION = "onepipe.dev/model-version"
INTAKE_PATH = "/api/v1/kserve"  # where the monitor service takes this backend's events
# The Helm chart's monitor Service (chart/values.yaml monitor.service).
MONITOR_SERVICE, MONITOR_PORT = "onepipe-monitor", 8080


def deployment_name(settings: Settings) -> str:
    return settings.serve.kserve.name or settings.model_name


def monitor_url(settings: Settings) -> str:
    """Where the request logger posts: ``serve.kserve.monitor_url``, else the chart's Service."""
    configured = settings.serve.kserve.monitor_url
    if configured:
        return configured
    namespace = settings.kubernetes.namespace
    return f"http://{MONITOR_SERVICE}.{namespace}.svc.cluster.local:{MONITOR_PORT}{INTAKE_PATH}"
