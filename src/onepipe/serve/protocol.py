"""The serve stage's protocol: make a ``DeploymentState`` live, report what is live.

``LocalDeployer`` (gateway + MLServer) and ``SeldonDeployer`` (a SeldonDeployment)
implement it; :mod:`onepipe.serve.deployments` and the transaction it runs each
change in (:mod:`onepipe.serve.transaction`) are the only callers, and never branch
on the backend.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from onepipe.serve.state import DeploymentState
from onepipe.tracking.registry import ModelRef


@runtime_checkable
class Deployer(Protocol):
    backend: str  # "mlserver" | "seldon": the key history rows are filed under

    def apply(self, state: DeploymentState, models: dict[str, ModelRef]) -> str:
        """Route as ``state`` says once every model in it is ready; one line saying what happened.

        Raises ``DeployError`` (naming why) when a model fails to load or to answer its
        readiness check; the previous routing then keeps serving.
        """
        ...

    def live(self) -> DeploymentState | None:
        """What is serving now, or None when nothing runs (or the backend cannot tell)."""
        ...
