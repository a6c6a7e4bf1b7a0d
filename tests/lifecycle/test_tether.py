"""The tether: a helper and everything it started end with their parent, SIGKILL included,
and not before (not when only the parent's thread that started them ends)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from napping_project import running

PARENT = """
import subprocess, sys, threading, time
from onepipe.lifecycle.tether import tethered

def start():
    # The helper starts a shell, which starts two sleepers (grandchildren of the tether).
    cmd = ["sh", "-c", "sleep 300 & echo $! > {pids}/a; sleep 301 & echo $! > {pids}/b; wait"]
    subprocess.Popen(tethered(cmd), start_new_session=True)

thread = threading.Thread(target=start)   # as the gateway starts MLServer: from a thread
thread.start()
thread.join()                             # that thread is gone; the parent lives on
print("started", flush=True)
time.sleep(600)
"""


def _pids(folder: Path) -> list[int]:
    found = [folder / "a", folder / "b"]
    if not all(f.exists() and f.read_text().strip() for f in found):
        return []
    return [int(f.read_text()) for f in found]


def test_helper_and_its_children_end_with_a_sigkilled_parent_only(tmp_path):
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT.replace("{pids}", str(tmp_path))],
        stdout=subprocess.PIPE,
        text=True,
    )
    sleepers: list[int] = []
    try:
        assert parent.stdout is not None and parent.stdout.readline() == "started\n"
        deadline = time.monotonic() + 30
        while not (sleepers := _pids(tmp_path)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(sleepers) == 2
        time.sleep(1.5)  # the starting thread ended well before: nothing may have stopped
        assert all(running(pid) for pid in sleepers)
        parent.send_signal(signal.SIGKILL)
        parent.wait(30)
        deadline = time.monotonic() + 30
        while any(running(pid) for pid in sleepers) and time.monotonic() < deadline:
            time.sleep(0.05)
        left = [pid for pid in sleepers if running(pid)]
    finally:
        parent.kill()
    for pid in left:  # the test's own cleanup when the code under test left them
        os.kill(pid, signal.SIGKILL)
    assert left == []


def test_signals_pass_through_and_the_exit_status_is_the_commands():
    from onepipe.lifecycle.tether import tethered

    done = subprocess.run(tethered(["sh", "-c", "exit 3"]), start_new_session=True)
    assert done.returncode == 3
    sleeper = subprocess.Popen(tethered(["sleep", "300"]), start_new_session=True)
    time.sleep(0.5)
    sleeper.terminate()  # to the tether, passed on to the command
    assert sleeper.wait(30) == -signal.SIGTERM
    missing = subprocess.run(
        tethered(["/no/such/program"]), start_new_session=True, capture_output=True, text=True
    )
    assert missing.returncode == 127 and missing.stderr.startswith("error: cannot start")
