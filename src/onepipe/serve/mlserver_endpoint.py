"""Where MLServer listens and how the gateway reaches it: an owner-only Unix socket by default.

MLServer has no authentication, and a loopback TCP port is open to every local user:
one could unload the served model. So its REST API listens on ``mlserver.sock`` in the
project's serve directory (mode 0700: only the project's owner, and root, may connect),
its gRPC API on a Unix socket next to it, and its metrics server is off. A fixed
``serve.mlserver.port`` opts back into TCP on 127.0.0.1, which any local user reaches.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import stat
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HOST = "127.0.0.1"
SOCKET_NAME, GRPC_NAME = "mlserver.sock", "mlserver-grpc.sock"
# Linux limits a Unix socket's path to 107 bytes; gRPC appends ":<port>" to its own.
MAX_SOCKET_PATH = 100
UNIX_HOST = "localhost"  # what the Host header says on the socket


def private_dir(path: Path) -> Path:
    """``path`` as a directory only its owner may enter (tightened if it exists, never loosened)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(0o700)
    return path


@dataclass(frozen=True)
class MLServerEndpoint:
    socket_path: Path | None = None  # None: TCP on HOST:port
    port: int = 0
    scratch: Path | None = None  # a private temp dir holding the socket, removed by cleanup()

    @classmethod
    def private(cls, workdir: Path) -> MLServerEndpoint:
        """Sockets in ``workdir`` (made 0700), or in a private temp dir when its path is too long."""
        directory = private_dir(workdir)
        if len(os.fsencode(directory / GRPC_NAME)) + 8 > MAX_SOCKET_PATH:
            directory = Path(tempfile.mkdtemp(prefix="onepipe-mlserver-"))  # mode 0700
            return cls(directory / SOCKET_NAME, scratch=directory)
        return cls(directory / SOCKET_NAME)

    @property
    def url(self) -> str:
        """Where MLServer answers, for people and the admin API."""
        return f"unix:{self.socket_path}" if self.socket_path else f"http://{HOST}:{self.port}"

    @property
    def base_url(self) -> str:
        """The URL httpx requests go to (over the socket when there is one)."""
        return f"http://{UNIX_HOST}" if self.socket_path else self.url

    @property
    def host_header(self) -> str:
        return UNIX_HOST if self.socket_path else f"{HOST}:{self.port}"

    def server_settings(self, grpc_port: int) -> dict[str, Any]:
        """The listening part of MLServer's settings.json."""
        if self.socket_path is None:
            return {"host": HOST, "http_port": self.port, "grpc_port": grpc_port}
        # gRPC binds "<host>:<grpc_port>": a unix: host makes that a socket file, ":<port>" and all.
        grpc = self.socket_path.with_name(GRPC_NAME)
        return {"host": f"unix:{grpc}", "http_port": 0, "grpc_port": grpc_port}

    def launch_args(self) -> list[str]:
        return ["--socket", str(self.socket_path)] if self.socket_path else []

    def client(self, timeout: float) -> Any:
        transport = httpx.HTTPTransport(uds=str(self.socket_path)) if self.socket_path else None
        return httpx.Client(transport=transport, timeout=timeout)

    def async_client(self, timeout: float) -> Any:
        uds = str(self.socket_path) if self.socket_path else None
        transport = httpx.AsyncHTTPTransport(uds=uds) if uds else None
        return httpx.AsyncClient(transport=transport, timeout=httpx.Timeout(timeout))

    async def connect(self, protocol: Callable[[], asyncio.Protocol]) -> asyncio.Protocol:
        loop = asyncio.get_running_loop()
        if self.socket_path is not None:
            _, conn = await loop.create_unix_connection(protocol, str(self.socket_path))
        else:
            _, conn = await loop.create_connection(protocol, HOST, self.port)
        return conn

    def cleanup(self) -> None:
        if self.socket_path is not None:
            for name in (SOCKET_NAME, GRPC_NAME):
                for path in self.socket_path.parent.glob(f"{name}*"):
                    path.unlink(missing_ok=True)
        if self.scratch is not None:
            shutil.rmtree(self.scratch, ignore_errors=True)
