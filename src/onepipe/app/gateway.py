"""The gateway as ``onepipe serve`` runs it: serving with the monitor mounted on its port.

With ``monitor.enabled``, every answer goes to the prediction log and the gateway
also answers ``/feedback``, ``/metrics`` and ``/monitor/health`` (monitor/service.py).
"""

from __future__ import annotations

from collections.abc import Callable

from onepipe.config import Settings
from onepipe.history import DeploymentState
from onepipe.monitor.service import Monitor
from onepipe.serve.gateway.app import Extension, Gateway
from onepipe.serve.server import run_gateway as run_serving


def monitor_extension(settings: Settings) -> Extension:
    """The prediction log, fed by every answer, and the monitor's routes."""
    monitor = Monitor(settings)
    return Extension(
        on_response=monitor.logger,
        routes=monitor.routes(prefix="/monitor"),
        close=monitor.close,  # drains the log: nothing answered is lost on a clean stop
    )


def run_gateway(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    on_ready: Callable[[Gateway, DeploymentState, str], None] | None = None,
    install_signal_handlers: bool = True,
) -> None:
    """``onepipe serve`` in the foreground (serve/server.py), the monitor mounted when enabled."""
    extensions = [monitor_extension] if settings.monitor.enabled else []
    run_serving(
        settings,
        host=host,
        port=port,
        on_ready=on_ready,
        install_signal_handlers=install_signal_handlers,
        extensions=extensions,
    )
