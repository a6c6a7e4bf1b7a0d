"""The ``serve.kserve`` section of onepipe.yaml: the one ``InferenceService`` per environment."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, field_validator

from onepipe.config.base import BackendSection, ConfigProblem, Section

# KServe refuses an InferenceService name that does not start with a letter (its webhook's
# rule), and Knative names each revision "<name>-predictor-00001": at most 63 characters.
NAME_RULE = re.compile(r"[a-z]([-a-z0-9]*[a-z0-9])?")
NAME_MAX = 63 - len("-predictor-00001")
NAME_EXPECTED = (
    f"a KServe name (lowercase letters, digits and '-', starting with a letter and ending "
    f"with a letter or digit, at most {NAME_MAX} characters)"
)
QUANTITY = re.compile(r"[0-9]+(\.[0-9]+)?([numkMGTPE]|[KMGTPE]i)?")


def check_name(value: str) -> str:
    if not NAME_RULE.fullmatch(value) or len(value) > NAME_MAX:
        raise ValueError(f"expected {NAME_EXPECTED}, found {value[:70]!r}")
    return value


class ResourcesConfig(Section):
    """CPU/memory of the model container (empty: the ServingRuntime's own, 1 CPU / 2Gi)."""

    requests: dict[str, str] = Field(default_factory=dict)
    limits: dict[str, str] = Field(default_factory=dict)

    @field_validator("requests", "limits")
    @classmethod
    def _quantities(cls, value: dict[str, str]) -> dict[str, str]:
        for key, amount in value.items():
            if not QUANTITY.fullmatch(str(amount)):
                raise ValueError(
                    f"{key}: expected a Kubernetes quantity such as 500m or 2Gi, found {amount!r}"
                )
        return value


class KServeConfig(BackendSection):
    """The cluster backend: one ``InferenceService`` (namespace from ``kubernetes.namespace``)."""

    name: str | None = None  # defaults to the model name
    # Canary rollouts (canaryTrafficPercent) exist only in KServe's Knative mode; the
    # default mode of KServe >= 0.17 (Standard) ignores them, so the object asks for it.
    deployment_mode: Literal["Knative", "Serverless"] = "Knative"  # Serverless: its old name
    runtime: str = "kserve-mlserver"  # the ClusterServingRuntime serving the mlflow format
    # Where the request logger posts CloudEvents: the monitor service (None: the Helm
    # chart's onepipe-monitor Service in kubernetes.namespace, /api/v1/kserve).
    monitor_url: str | None = None
    logger_mode: Literal["all", "request", "response"] = "all"
    service_account: str | None = None  # needs read access to the model store
    min_replicas: int = Field(1, ge=0)  # 0: scale to zero when idle (Knative)
    max_replicas: int = Field(0, ge=0)  # 0: KServe's default
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig)
    field_manager: str = "onepipe"
    # Each write waits this long for its revision to be ready and routed (a canary on a
    # new champion takes two writes: see rollout.py).
    ready_timeout_s: float = Field(600.0, gt=0)

    @field_validator("name")
    @classmethod
    def _kserve_name(cls, value: str | None) -> str | None:
        return value if value is None else check_name(value)

    def check_chosen(self, cfg: Any) -> None:
        """The model name names the InferenceService unless ``name`` is set; KServe has no
        shadow or sticky routing, so an environment asking for them is refused here."""
        for key in ("shadow", "sticky"):
            if getattr(cfg.serve, key):
                raise ConfigProblem(
                    f"serve.{key}: KServe's canary splits traffic between revisions at random, "
                    f"with no {key} routing (expected false as backends.serve is kserve)"
                )
        if self.name is not None:
            return
        try:
            check_name(cfg.model.name)
        except ValueError as exc:
            raise ConfigProblem(
                f"model.name: {exc} (it names the InferenceService, as backends.serve is "
                "kserve; or set serve.kserve.name)"
            ) from None
