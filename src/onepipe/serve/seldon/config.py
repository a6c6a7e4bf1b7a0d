"""The ``serve.seldon`` section of onepipe.yaml: the one ``SeldonDeployment`` per environment."""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from onepipe.config.base import BackendSection, ConfigProblem
from onepipe.config.names import check_kubernetes_name


class SeldonConfig(BackendSection):
    """The cluster backend: one ``SeldonDeployment`` (namespace from ``kubernetes.namespace``)."""

    name: str | None = None  # defaults to the model name
    replicas: int = Field(1, ge=0)
    # Where Seldon's request logger posts CloudEvents: the monitor service.
    monitor_url: str = "http://onepipe-monitor.onepipe.svc.cluster.local:8080/api/v1/seldon"
    logger_mode: str = Field("all", pattern="^(all|request|response)$")
    service_account: str | None = None  # needs read access to the model store
    field_manager: str = "onepipe"
    # After applying, wait this long for status.state Available (0: do not wait).
    ready_timeout_s: float = Field(600.0, ge=0)

    @field_validator("name")
    @classmethod
    def _kubernetes_name(cls, value: str | None) -> str | None:
        return value if value is None else check_kubernetes_name(value)

    def check_chosen(self, cfg: Any) -> None:
        """Without ``name``, the model name names the SeldonDeployment: it must be a DNS label."""
        if self.name is not None:
            return
        try:
            check_kubernetes_name(cfg.model.name)
        except ValueError as exc:
            raise ConfigProblem(
                f"model.name: {exc} (it names the SeldonDeployment, as backends.serve is "
                "seldon; or set serve.seldon.name)"
            ) from None
