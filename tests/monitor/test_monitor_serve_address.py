"""``onepipe monitor serve`` listens on loopback unless told otherwise."""

from __future__ import annotations

import subprocess
import sys
import time

import psutil
from onepipe_testkit import copy_project


def _listening(pid: int, port: int, deadline: float) -> list[str]:
    """The addresses process ``pid`` listens on for ``port``, once it listens."""
    proc = psutil.Process(pid)
    while time.monotonic() < deadline:
        found = [
            c.laddr.ip
            for c in proc.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        ]
        if found:
            return found
        time.sleep(0.2)
    return []


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_monitor_serve_binds_loopback_by_default(tmp_path):
    root = copy_project(tmp_path / "proj")
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", "monitor", "serve", "--port", str(port)],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        addresses = _listening(proc.pid, port, time.monotonic() + 60)
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    assert addresses == ["127.0.0.1"], stderr
    assert f"on 127.0.0.1:{port}" in stderr
