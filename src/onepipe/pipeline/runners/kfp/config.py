"""The ``kfp:`` section of onepipe.yaml: where Kubeflow Pipelines runs the pipeline."""

from __future__ import annotations

from pydantic import Field

from onepipe.config.base import BackendSection


class KfpConfig(BackendSection):
    """The KFP API server ``onepipe submit`` talks to, and how it follows a run."""

    # The KFP API (ml-pipeline service, or the UI's /pipeline proxy), e.g. http://ml-pipeline.kubeflow:8888
    host: str = "http://localhost:8888"
    # Where the UI links point (defaults to host).
    ui_host: str | None = None
    # Multi-user KFP: the profile namespace; defaults to kubernetes.namespace.
    namespace: str | None = None
    poll_interval_s: float = Field(5.0, gt=0)
    timeout_s: float = Field(6 * 3600.0, gt=0)  # give up following (the run keeps going)
    service_account: str | None = None
    # The MLflow address the steps' pods record to (they write their own runs); defaults to
    # tracking.uri, which is right when that is the in-cluster service's address.
    tracking_uri: str | None = None
