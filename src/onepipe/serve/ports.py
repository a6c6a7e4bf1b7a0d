"""The ports local serving listens on, claimed before anything starts.

The gateway's socket is bound and listening before MLServer starts, and uvicorn
serves on that very socket: a taken port is refused up front, and no process can
take it while MLServer loads (uvicorn binding only after its startup let a failed
bind go unnoticed, and callers talked to whatever held the port). MLServer binds
its port in its own process, so a fixed one is checked free before it starts.
"""

from __future__ import annotations

import errno
import socket

from onepipe.errors import UsageError
from onepipe.serve.mlserver_endpoint import HOST as MLSERVER_HOST


def _socket(host: str) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    # As uvicorn and MLServer set it: a port left in TIME_WAIT by a stopped server is free,
    # one another process listens on is not.
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    return sock


def claim_gateway_port(host: str, port: int) -> socket.socket:
    """A socket listening on ``host:port`` for the gateway, or a UsageError saying what to do."""
    sock = _socket(host)
    try:
        sock.bind((host, port))
        sock.listen()
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise UsageError(
                f"gateway port {port} on {host} is taken by another process: stop it, or serve "
                "on a free port (serve.gateway.port in onepipe.yaml, or --port for onepipe serve)"
            ) from None
        raise UsageError(
            f"gateway address {host}:{port}: cannot listen ({exc.strerror or exc}); expected an "
            "address of this machine and a port you may open (serve.gateway.host and "
            "serve.gateway.port, or --host and --port for onepipe serve)"
        ) from None
    return sock


def check_mlserver_port(port: int, *, gateway_port: int) -> None:
    """A fixed MLServer port must be free and not the gateway's; 0 (a free one is picked) is."""
    if not port:
        return
    if port == gateway_port:
        raise UsageError(
            f"serve.mlserver.port is {port}, the gateway's port: MLServer needs a port of its "
            "own (set serve.mlserver.port to another, or to 0 to pick a free one)"
        )
    with _socket(MLSERVER_HOST) as probe:
        try:
            probe.bind((MLSERVER_HOST, port))
        except OSError as exc:
            why = (
                "is taken by another process: stop it, or"
                if exc.errno == errno.EADDRINUSE
                else f"cannot be opened ({exc.strerror}):"
            )
            raise UsageError(
                f"MLServer port {port} on {MLSERVER_HOST} {why} set serve.mlserver.port "
                "to a free port, or to 0 to pick one"
            ) from None
