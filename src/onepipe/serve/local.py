"""``LocalDeployer``: the embedded serve backend, talking to a running ``onepipe serve``.

The gateway owns MLServer and the routing table; this class only speaks to its
localhost admin API, with the project's control key (serve/control.py). Before it
reads or changes anything it checks the gateway serves this project (config file,
env, model): a config naming another project's gateway port is refused, naming
both, and nothing is applied. With no gateway running a change is still recorded,
and ``onepipe serve`` starts in it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from onepipe.history import DeploymentState
from onepipe.serve import address
from onepipe.serve.control import (
    auth_headers,
    describe,
    identity,
    key_path,
    read_key_file,
    same_project,
)
from onepipe.serve.errors import DeployError, ForeignGateway

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef


class LocalDeployer:
    backend = "mlserver"

    def __init__(
        self,
        admin_url: str,
        timeout: float = 180.0,
        *,
        key_file: Path | None = None,
        expect: dict[str, Any] | None = None,
    ) -> None:
        self.admin_url = admin_url.rstrip("/")
        self.timeout = timeout
        # The project's control key, read at each request: a gateway started after this
        # deployer was made creates it.
        self.key_file = key_file
        self.expect = expect or {}  # what this project's gateway says it serves
        self._checked = False

    @classmethod
    def from_settings(cls, settings: Settings) -> LocalDeployer:
        gw = settings.serve.gateway
        # The running gateway's own address first: `serve --port` may differ from the config.
        url = address.running_url(settings) or address.connect_url(gw.host, gw.port)
        return cls(
            url,
            settings.serve.mlserver.load_timeout_s + 60,
            key_file=key_path(settings),
            expect=identity(settings),
        )

    def _request(self, method: str, path: str, **kw: Any) -> Any:
        key = read_key_file(self.key_file) if self.key_file else None
        try:
            return httpx.request(method, f"{self.admin_url}{path}", headers=auth_headers(key), **kw)
        except httpx.ConnectError:
            return None
        except httpx.HTTPError as exc:
            raise DeployError(
                f"gateway at {self.admin_url}: {type(exc).__name__} ({exc})"
            ) from None

    def _foreign(self, resp: Any) -> None:
        """Raise ForeignGateway when ``resp`` shows a gateway that is not this project's."""
        if resp.status_code not in (200, 401, 403, 409):
            return
        try:
            serves = resp.json().get("serves")
        except (ValueError, AttributeError):
            serves = None
        if resp.status_code == 200 and (not isinstance(serves, dict) or not self.expect):
            return
        if isinstance(serves, dict) and not same_project(serves, self.expect):
            raise ForeignGateway(
                f"the gateway at {self.admin_url} serves {describe(serves)}, not this "
                f"{describe(self.expect)}: nothing applied (set serve.gateway.port to this "
                "project's own gateway port)"
            )
        if resp.status_code in (401, 403):
            whose = describe(serves) if isinstance(serves, dict) else "an unknown project"
            raise ForeignGateway(
                f"the gateway at {self.admin_url} refused the control key (HTTP "
                f"{resp.status_code}): nothing applied; it serves {whose}, and only a holder "
                f"of its key ({self.key_file}, readable by the project's owner) may steer it "
                "(a gateway started before that file was replaced needs a restart)"
            )

    def _check(self) -> None:
        """Once per deployer: the gateway at the address (if any) is this project's."""
        if self._checked:
            return
        resp = self._request("GET", "/admin/state", timeout=5)
        if resp is not None:  # nothing answering: the change is recorded for the next serve
            self._foreign(resp)
            self._checked = True

    def live(self) -> DeploymentState | None:
        resp = self._request("GET", "/admin/state", timeout=5)
        if resp is None:
            return None
        self._foreign(resp)
        if resp.status_code != 200:
            return None
        state = resp.json().get("state")
        return DeploymentState.from_dict(state) if state else None

    def apply(self, state: DeploymentState, models: dict[str, ModelRef]) -> str:
        self._check()
        resp = self._request(
            "POST",
            "/admin/apply",
            # the gateway refuses (409) when it serves another config than ``expect``
            json={"state": state.to_dict(), "expect": self.expect or None},
            timeout=self.timeout,
        )
        if resp is None:
            return (
                f"recorded {state.describe()}; no gateway answers at {self.admin_url}, "
                "`onepipe serve` will start in this state"
            )
        self._foreign(resp)
        try:
            body = resp.json()
        except ValueError:
            body = {"error": resp.text[:300]}
        if resp.status_code != 200:
            raise DeployError(f"gateway kept serving the previous state: {body.get('error', body)}")
        return f"gateway at {self.admin_url} now serves {state.describe()}"
