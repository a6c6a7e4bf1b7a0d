"""A gateway killed with SIGKILL takes its MLServer with it and leaves no address to trust."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from serve_helpers import load, wait_until

from onepipe.serve import address

pytestmark = pytest.mark.slow


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"  # a zombie has ended


def _mlserver_pid(project: Path) -> int | None:
    log = project / ".onepipe" / "serve" / "mlserver.log"
    for line in log.read_text().splitlines()[::-1]:
        if "Started server process [" in line:
            return int(line.split("[")[-1].split("]")[0])
    return None


def test_sigkilled_gateway_leaves_no_mlserver_and_no_trusted_address(project):
    settings = load(project)
    url = f"http://127.0.0.1:{settings.serve.gateway.port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", "serve", "-c", str(project / "onepipe.yaml")],
        cwd=project,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    worker = None
    try:
        assert wait_until(ready, timeout=120) and proc.poll() is None, "gateway did not come up"
        worker = _mlserver_pid(project)
        assert worker and _running(worker)
        assert address.running_url(settings) == url
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        gone = wait_until(lambda: not _running(worker), timeout=60)
    finally:
        proc.kill()
        if worker and _running(worker):
            os.kill(worker, signal.SIGKILL)  # the test's own cleanup
    assert gone, "MLServer outlived the SIGKILLed gateway"

    # The killed gateway could not withdraw its address; nothing may trust it now,
    # not even when its pid is reused by an unrelated process.
    published = project / ".onepipe" / "serve" / address.FILE_NAME
    assert published.exists()
    stranger = subprocess.Popen(["sleep", "60"])
    try:
        record = json.loads(published.read_text())
        record["pid"] = stranger.pid  # wherever the file names the gateway's pid
        for value in record.values():
            if isinstance(value, dict) and "pid" in value:
                value["pid"] = stranger.pid
        published.write_text(json.dumps(record))
        assert address.running_url(settings) is None
    finally:
        stranger.kill()
        stranger.wait()
    assert not published.exists()  # the stale file is removed by whoever found it stale
