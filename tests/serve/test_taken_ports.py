"""Serving refuses a port another process holds, before starting anything, and never talks to it."""

from __future__ import annotations

import http.server
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from serve_helpers import free_port, load

from onepipe.app.background import BackgroundGateway
from onepipe.errors import OnepipeError

pytestmark = pytest.mark.slow


class _Recorder(http.server.BaseHTTPRequestHandler):
    def _record(self) -> None:
        self.server.seen.append(f"{self.command} {self.path}")  # type: ignore[attr-defined]
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_POST = _record

    def log_message(self, *args) -> None:
        pass


def _with(project, *overrides: str):
    from onepipe.config import load_settings

    return load_settings(project / "onepipe.yaml", overrides=list(overrides), user="tester")


@contextmanager
def holder(port: int) -> Iterator[list[str]]:
    """Another process's HTTP server on ``port`` (a thread here): yields the requests it got."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), _Recorder)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.seen  # type: ignore[attr-defined]
    finally:
        server.shutdown()
        server.server_close()


def test_onepipe_serve_on_a_taken_gateway_port_exits_2_with_one_line(project):
    port = load(project).serve.gateway.port
    with holder(port) as seen:
        r = subprocess.run(
            [sys.executable, "-m", "onepipe", "serve", "-c", str(project / "onepipe.yaml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 2, r.stderr
    errors = [line for line in r.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and r.stderr.strip().splitlines()[-1] == errors[0]
    assert f"port {port}" in errors[0] and "another process" in errors[0]
    assert "serve.gateway.port" in errors[0] and "--port" in errors[0]
    assert "Traceback" not in r.stderr
    assert seen == []


def test_background_gateway_on_a_taken_port_raises_before_starting_mlserver(project):
    settings = load(project)
    port = settings.serve.gateway.port
    with holder(port) as seen:
        with pytest.raises(OnepipeError, match=f"port {port} .*another process"):
            BackgroundGateway(settings).start()
    assert seen == []
    assert not (settings.path(settings.serve.mlserver.workdir) / "settings.json").exists()


def test_a_taken_fixed_mlserver_port_is_refused_without_a_request_to_its_holder(project):
    held = free_port()
    settings = _with(project, f"serve.mlserver.port={held}")
    with holder(held) as seen:
        with pytest.raises(OnepipeError, match=f"MLServer port {held} .*serve.mlserver.port"):
            BackgroundGateway(settings).start()
    assert seen == []


def test_mlserver_and_the_gateway_cannot_share_a_port(project):
    settings = load(project)
    port = settings.serve.gateway.port
    same = _with(project, f"serve.mlserver.port={port}")
    with pytest.raises(OnepipeError, match="serve.mlserver.port"):
        BackgroundGateway(same).start()
