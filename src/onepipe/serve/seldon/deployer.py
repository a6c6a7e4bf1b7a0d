"""``SeldonDeployer``: the cluster serve backend behind the ``Deployer`` protocol."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from onepipe.errors import NotFoundError
from onepipe.serve.errors import DeployError
from onepipe.serve.seldon.render import (
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    deployment_name,
    render,
    state_of,
)
from onepipe.serve.state import DeploymentState

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef


class SeldonDeployer:
    backend = "seldon"

    def __init__(self, settings: Settings, api_client: Any = None, poll_s: float = 1.0) -> None:
        self.settings = settings
        self._api_client = api_client
        self.poll_s = poll_s
        self._resources: Any = None

    @classmethod
    def from_settings(cls, settings: Settings) -> SeldonDeployer:
        return cls(settings)

    @property
    def resources(self) -> Any:
        if self._resources is None:
            from onepipe.k8s.resources import CustomResources, ResourceKind, api_client

            api = self._api_client or api_client(context=self.settings.kubernetes.context)
            self._resources = CustomResources(
                api, ResourceKind(GROUP, VERSION, PLURAL, KIND), self.settings.kubernetes.namespace
            )
        return self._resources

    @property
    def name(self) -> str:
        return deployment_name(self.settings)

    def get(self) -> dict[str, Any] | None:
        try:
            return self.resources.get(self.name)
        except NotFoundError:
            return None

    def live(self) -> DeploymentState | None:
        obj = self.get()
        return state_of(obj) if obj else None

    def apply(self, state: DeploymentState, models: dict[str, ModelRef]) -> str:
        from onepipe.serve.seldon.kube import server_side_apply

        obj = render(self.settings, state, models)  # validated against the CRD schema
        previous = self.get()
        fm = self.settings.serve.seldon.field_manager
        server_side_apply(self.resources, obj, fm)
        where = f"SeldonDeployment {self.settings.kubernetes.namespace}/{self.name}"
        status = self._wait(self.settings.serve.seldon.ready_timeout_s)
        if status.get("state") == "Failed":
            why = status.get("description") or "no description"
            if previous is not None:
                server_side_apply(self.resources, _restorable(previous), fm)
                raise DeployError(
                    f"{where}: {state.describe()} failed ({why}); restored the previous "
                    f"spec ({_describe(previous)}), which keeps serving"
                )
            raise DeployError(f"{where}: {state.describe()} failed ({why})")
        shown = status.get("state") or "no status yet"
        return f"applied {where}: {state.describe()} (status {shown})"

    def _wait(self, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            obj = self.get() or {}
            status = obj.get("status") or {}
            if status.get("state") in ("Available", "Failed") or time.monotonic() >= deadline:
                return status
            time.sleep(self.poll_s)


def _restorable(obj: dict[str, Any]) -> dict[str, Any]:
    meta = obj.get("metadata") or {}
    keep = {k: meta[k] for k in ("name", "namespace", "labels", "annotations") if k in meta}
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "metadata": keep,
        "spec": obj["spec"],
    }


def _describe(obj: dict[str, Any]) -> str:
    state = state_of(obj)
    return state.describe() if state else "unknown state"
