"""``onepipe serve`` as a user runs it: a subprocess, Ctrl-C, restart in the recorded state."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys

import httpx
import pytest
from serve_helpers import ROW, free_port, load, start_serve, wait_until

from onepipe.serve import deployments

pytestmark = pytest.mark.slow


def _mlserver_pid(project) -> int | None:
    from onepipe.serve.mlserver import MLServerWorker  # noqa: F401 - the log names the pid

    for line in (project / ".onepipe" / "serve" / "mlserver.log").read_text().splitlines()[::-1]:
        if "Started server process [" in line:
            return int(line.split("[")[-1].split("]")[0])
    return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_serve_restarts_in_the_last_recorded_state_and_stops_cleanly(project):
    settings = load(project)
    proc, url = start_serve(project, user="cli-tester", timeout=90)
    try:
        assert (
            httpx.post(f"{url}/predict", json={"instances": [ROW]}).json()["model_version"] == "1"
        )
        deployments.deploy(settings, canary=100, reason="all on the challenger")
        assert (
            httpx.post(f"{url}/predict", json={"instances": [ROW]}).json()["model_version"] == "2"
        )
        worker_pid = _mlserver_pid(project)
    finally:
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 0 and "Traceback" not in stderr and "stopped" in stderr
    assert worker_pid and wait_until(lambda: not _alive(worker_pid), timeout=10)

    proc, url = start_serve(
        project, user="cli-tester", timeout=90
    )  # comes back as recorded, not from the registry aliases
    try:
        r = httpx.post(f"{url}/predict", json={"instances": [ROW]})
        assert (r.json()["model_version"], r.headers["x-model-alias"]) == ("2", "challenger")
        assert "restored" not in (deployments.history(settings)[0].reason or "")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)


def test_deploy_finds_a_gateway_started_on_another_port(project, cli):
    settings = load(project)
    port = free_port()
    assert port != settings.serve.gateway.port
    proc, url = start_serve(project, port, user="cli-tester", timeout=90)
    try:
        first = httpx.post(f"{url}/predict", json={"instances": [ROW]}).json()["model_version"]
        target = "100" if first != "2" else "0"
        result = cli("deploy", "--canary", target, cwd=project)
        assert result.code == 0, result.err
        assert f"gateway at {url} now serves" in result.err  # applied live, not just recorded
        answered = httpx.post(f"{url}/predict", json={"instances": [ROW]}).json()["model_version"]
        assert answered == ("2" if target == "100" else "1")
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=60)
    assert not (project / ".onepipe" / "serve" / "gateway.json").exists()  # withdrawn on exit


def test_serve_on_a_busy_port_is_one_line_error(project):
    port = load(project).serve.gateway.port
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
        s.listen()
        r = subprocess.run(
            [sys.executable, "-m", "onepipe", "serve", "-c", str(project / "onepipe.yaml")],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert r.returncode == 2
    assert (
        r.stderr.strip()
        .splitlines()[-1]
        .startswith(f"error: gateway port {port} on 127.0.0.1 is taken by another process")
    )
    assert "Traceback" not in r.stderr
