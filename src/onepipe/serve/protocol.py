"""The serve stage's protocol: make a ``DeploymentState`` live, report what is live.

``LocalDeployer`` (gateway + MLServer) and ``SeldonDeployer`` (a SeldonDeployment)
implement it; :mod:`onepipe.serve.deployments` and the transaction it runs each
change in (:mod:`onepipe.serve.transaction`) are the only callers, and never branch
on the backend.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, cast, runtime_checkable

from onepipe import plugins
from onepipe.history import DeploymentState
from onepipe.tracking.registry import ModelRef

if TYPE_CHECKING:
    from onepipe.config import Settings


@runtime_checkable
class Deployer(Protocol):
    backend: str  # its registry name (onepipe.plugins): the key history rows are filed under

    @classmethod
    def from_settings(cls, settings: Settings) -> Deployer:
        """The deployer for these settings (names, namespaces, credentials come from them)."""
        ...

    def apply(self, state: DeploymentState, models: dict[str, ModelRef]) -> str:
        """Route as ``state`` says once every model in it is ready; one line saying what happened.

        Raises ``DeployError`` (naming why) when a model fails to load or to answer its
        readiness check; the previous routing then keeps serving.
        """
        ...

    def live(self) -> DeploymentState | None:
        """What is serving now, or None when nothing runs (or the backend cannot tell)."""
        ...


def load_deployer(name: str) -> type[Deployer]:
    """The deployer registered as ``name`` (``backends.serve``); ConfigError naming the choices."""
    return cast("type[Deployer]", plugins.load_backend("serve", name))
