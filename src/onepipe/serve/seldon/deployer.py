"""``SeldonDeployer``: the cluster serve backend behind the ``Deployer`` protocol."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from onepipe.history import DeploymentState
from onepipe.k8s.resources import NamedObject, ResourceKind
from onepipe.serve.errors import DeployError
from onepipe.serve.seldon import NAME
from onepipe.serve.seldon.render import (
    GROUP,
    KIND,
    PLURAL,
    VERSION,
    deployment_name,
    render,
    state_of,
)

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef


class SeldonDeployer(NamedObject):
    """The environment's SeldonDeployment (``get()``: as the cluster has it, or None)."""

    backend = NAME

    def __init__(self, settings: Settings, api_client: Any = None, poll_s: float = 1.0) -> None:
        kind = ResourceKind(GROUP, VERSION, PLURAL, KIND)
        super().__init__(kind, deployment_name(settings), settings.kubernetes, api_client)
        self.settings = settings
        self.poll_s = poll_s

    @classmethod
    def from_settings(cls, settings: Settings) -> SeldonDeployer:
        return cls(settings)

    def live(self) -> DeploymentState | None:
        obj = self.get()
        return state_of(obj) if obj else None

    def apply(self, state: DeploymentState, models: dict[str, ModelRef]) -> str:
        obj = render(self.settings, state, models)  # validated against the CRD schema
        previous = self.get()
        fm = self.settings.serve.seldon.field_manager
        self.resources.apply(obj, fm)
        where = f"SeldonDeployment {self.settings.kubernetes.namespace}/{self.name}"
        status = self._wait(self.settings.serve.seldon.ready_timeout_s)
        if status.get("state") == "Failed":
            why = status.get("description") or "no description"
            if previous is not None:
                self.resources.apply(_restorable(previous), fm)
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
