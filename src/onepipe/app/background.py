"""``onepipe serve`` on a thread of this process: the gateway (monitor mounted, as
app/gateway.py runs it) plus its MLServer subprocess.

For callers that drive serving from Python while it runs (the demo, the tests):
``start()`` returns once the gateway serves, ``stop()`` shuts it down as Ctrl-C would.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from onepipe.errors import OnepipeError
from onepipe.serve.address import connect_url

if TYPE_CHECKING:
    from onepipe.config import Settings


class BackgroundGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.gateway: Any = None
        self.error: BaseException | None = None
        self._ready = threading.Event()
        self.thread = threading.Thread(target=self._run, name="onepipe-serve", daemon=True)

    @property
    def url(self) -> str:
        gw = self.settings.serve.gateway
        return connect_url(gw.host, gw.port)

    def _run(self) -> None:
        # lazy: `onepipe --help` loads this module (cli/demo_cmd.py), not the gateway's stack
        from onepipe.app.gateway import run_gateway

        def ready(gateway, state, url) -> None:
            self.gateway = gateway
            self._ready.set()

        try:
            run_gateway(self.settings, on_ready=ready, install_signal_handlers=False)
        except BaseException as exc:  # noqa: BLE001 - raised again by start()
            self.error = exc
        finally:
            self._ready.set()

    def start(self, timeout: float = 180) -> BackgroundGateway:
        self.thread.start()
        self._ready.wait(timeout)
        if self.error is not None:
            raise self.error
        if self.gateway is None:
            raise OnepipeError(f"serve: the gateway did not start within {timeout:.0f}s")
        return self

    def flush(self) -> None:
        """Wait until every answered request is in the prediction log."""
        for hook in getattr(self.gateway, "on_response", []):
            if hasattr(hook, "flush"):
                hook.flush(30)

    def stop(self) -> None:
        if self.gateway is not None:
            self.gateway.request_stop()
        self.thread.join(60)
