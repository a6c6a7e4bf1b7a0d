"""``onepipe serve``: MLServer + the gateway in the foreground, back in the last recorded state.

What is served with the gateway comes in as ``extensions`` (the monitor: app/gateway.py
mounts it); serving knows nothing of what they are.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import uvicorn

from onepipe.errors import NotFoundError, OnepipeError, UsageError
from onepipe.history import DeploymentState, open_history
from onepipe.serve import address
from onepipe.serve.control import control_key, identity
from onepipe.serve.deployments import recover
from onepipe.serve.gateway.app import Extension, Gateway
from onepipe.serve.gateway.asgi import build_app
from onepipe.serve.gateway.connections import protocol_class
from onepipe.serve.gateway.worker import ModelHost
from onepipe.serve.mlserver import MLServerWorker
from onepipe.serve.ports import check_mlserver_port, claim_gateway_port
from onepipe.tracking.registry import CHALLENGER, CHAMPION, resolve_model

if TYPE_CHECKING:
    from onepipe.config import Settings

BACKEND = "mlserver"


def starting_state(settings: Settings) -> tuple[DeploymentState, str]:
    """The last recorded local state, else the registry's champion (+ challenger at 0%)."""
    changes = open_history(settings).list(
        env=settings.env, backend=BACKEND, model=settings.model_name, limit=1
    )
    if changes:
        return changes[0].state, f"restored change #{changes[0].id} ({changes[0].action})"
    name = settings.model_name
    try:
        champion = resolve_model(settings, f"{name}@{CHAMPION}")
    except NotFoundError as exc:
        raise NotFoundError(
            f"nothing to serve: {exc} (run `onepipe run` then `onepipe promote`)"
        ) from None
    try:
        challenger = str(resolve_model(settings, f"{name}@{CHALLENGER}").version)
    except NotFoundError:
        challenger = None
    if challenger == str(champion.version):
        challenger = None
    state = DeploymentState(name, champion.version, challenger, 0, False, settings.serve.sticky)
    return state, "registry aliases (no deployment recorded yet)"


def run_gateway(
    settings: Settings,
    *,
    host: str | None = None,
    port: int | None = None,
    on_ready: Callable[[Gateway, DeploymentState, str], None] | None = None,
    install_signal_handlers: bool = True,
    extensions: Sequence[Callable[[Settings], Extension]] = (),
) -> None:
    """Blocks until Ctrl-C / SIGTERM; MLServer is stopped on the way out.

    Taken ports are refused before anything starts (see serve/ports.py); a deployment
    change left half-done is completed or rolled back first (serve/transaction.py).
    ``extensions`` are built once the ports are held, and closed after the gateway stops.
    """
    cfg = settings.serve
    host = host or cfg.gateway.host
    # A change a killed command left half-done is settled before the history is read, and
    # before this gateway's port listens: the repair must not wait on a gateway not serving yet.
    recover(settings, target=BACKEND)
    with claim_gateway_port(host, cfg.gateway.port if port is None else port) as sock:
        check_mlserver_port(cfg.mlserver.port, gateway_port=sock.getsockname()[1])
        _serve(settings, sock, host, on_ready, install_signal_handlers, extensions)


def _serve(
    settings: Settings,
    sock: socket.socket,
    host: str,
    on_ready: Callable[[Gateway, DeploymentState, str], None] | None,
    install_signal_handlers: bool,
    extensions: Sequence[Callable[[Settings], Extension]],
) -> None:
    cfg = settings.serve
    port = sock.getsockname()[1]  # the one the OS gave, for --port 0
    state, origin = starting_state(settings)
    worker = MLServerWorker(
        settings.path(cfg.mlserver.workdir),
        port=cfg.mlserver.port,
        parallel_workers=cfg.mlserver.parallel_workers,
        startup_timeout=cfg.mlserver.startup_timeout_s,
        load_timeout=cfg.mlserver.load_timeout_s,
    )
    model_host = ModelHost(settings, worker)
    extras = [build(settings) for build in extensions]
    gateway = Gateway(
        model_host,
        max_body_bytes=cfg.gateway.max_body_bytes,
        max_instances=cfg.gateway.max_instances,
        sticky_header=cfg.gateway.sticky_header,
        control_key=control_key(settings),  # created on first use, owner-only
        serves=identity(settings),
        timeout=cfg.gateway.upstream_timeout_s,
        on_response=[extra.on_response for extra in extras if extra.on_response],
        routes=[route for extra in extras for route in extra.routes],
    )
    failure: list[BaseException] = []
    server: Any = None

    @asynccontextmanager
    async def lifespan(app: Any):
        try:
            await asyncio.to_thread(worker.start)
            await model_host.open()
            await model_host.apply(state)
        except Exception as exc:  # reported after uvicorn exits, as one line
            failure.append(exc)
            server.should_exit = True
        else:
            if origin.startswith("registry"):
                open_history(settings).record(
                    env=settings.env,
                    backend=BACKEND,
                    action="serve",
                    user=settings.user,
                    state=state,
                    reason=origin,
                )
            address.publish(settings, address.connect_url(host, port))
            if on_ready:
                on_ready(gateway, state, f"http://{host}:{port}")
        try:
            yield
        finally:
            address.withdraw(settings)
            await model_host.close()
            await asyncio.to_thread(worker.stop)
            for extra in extras:  # the monitor drains its prediction log: nothing queued is lost
                await asyncio.to_thread(extra.close)

    app = build_app(gateway, lifespan)
    try:
        import uvloop  # noqa: F401 - a faster event loop when installed (MLServer depends on it)

        loop = "uvloop"
    except ImportError:
        loop = "asyncio"
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=10,
        loop=loop,
        http=protocol_class(cfg.gateway.read_timeout_s),  # stalled and half-closed clients
    )
    server = uvicorn.Server(config)
    gateway.request_stop = lambda: setattr(server, "should_exit", True)  # for embedding callers
    if not install_signal_handlers:
        server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C after its clean shutdown: we are done
        pass
    finally:
        worker.stop()
    if failure:
        exc = failure[0]
        if isinstance(exc, OnepipeError):
            raise exc
        raise UsageError(f"serve: startup failed ({type(exc).__name__}: {exc})") from None
