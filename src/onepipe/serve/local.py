"""``LocalDeployer``: the embedded serve backend, talking to a running ``onepipe serve``.

The gateway owns MLServer and the routing table; this class only speaks to its
localhost admin API. With no gateway running a change is still recorded, and
``onepipe serve`` starts in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onepipe.serve.errors import DeployError
from onepipe.serve.state import DeploymentState

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef


class LocalDeployer:
    backend = "mlserver"

    def __init__(self, admin_url: str, timeout: float = 180.0) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalDeployer:
        from onepipe.serve import address

        gw = settings.serve.gateway
        # The running gateway's own address first: `serve --port` may differ from the config.
        url = address.running_url(settings) or address.connect_url(gw.host, gw.port)
        return cls(url, settings.serve.mlserver.load_timeout_s + 60)

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        import httpx

        try:
            return httpx.request(method, f"{self.admin_url}{path}", **kw)
        except httpx.ConnectError:
            return None
        except httpx.HTTPError as exc:
            raise DeployError(
                f"gateway at {self.admin_url}: {type(exc).__name__} ({exc})"
            ) from None

    def live(self) -> DeploymentState | None:
        resp = self._request("GET", "/admin/state", timeout=5)
        if resp is None or resp.status_code != 200:
            return None
        state = resp.json().get("state")
        return DeploymentState.from_dict(state) if state else None

    def apply(self, state: DeploymentState, models: dict[str, ModelRef]) -> str:
        resp = self._request(
            "POST", "/admin/apply", json={"state": state.to_dict()}, timeout=self.timeout
        )
        if resp is None:
            return (
                f"recorded {state.describe()}; no gateway answers at {self.admin_url}, "
                "`onepipe serve` will start in this state"
            )
        try:
            body = resp.json()
        except ValueError:
            body = {"error": resp.text[:300]}
        if resp.status_code != 200:
            raise DeployError(f"gateway kept serving the previous state: {body.get('error', body)}")
        return f"gateway at {self.admin_url} now serves {state.describe()}"
