"""Killed with SIGKILL, a sweep or a run leaves no process behind and no MLflow run RUNNING.

Real processes and real signals: ``onepipe sweep`` and ``onepipe run`` as a user's
shell starts them, the napping project's step sleeping for ten minutes so that
only the kill can end it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from napping_project import make_napping_project, marked_pids, running

pytestmark = pytest.mark.slow


def _onepipe(root: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "onepipe", *args],
        cwd=root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _runs_by_status(root: Path) -> dict[str, str]:
    """Every run of the project's store, read with a plain MLflow client (no onepipe code)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient(f"sqlite:///{root}/.onepipe/mlflow.db")
    runs = client.search_runs([e.experiment_id for e in client.search_experiments()])
    return {r.info.run_id: r.info.status for r in runs}


def _stop(*pids: int) -> None:
    for pid in pids:  # the test's own cleanup when the code under test left them alive
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_sigkilled_sweep_leaves_no_trial_process_and_no_running_run(tmp_path, cli):
    root = make_napping_project(tmp_path / "proj", trials=2)
    sweep = _onepipe(root, "sweep")
    try:
        _wait_for(lambda: len(marked_pids(root)) == 2, 120, "two trials napping")
        trials = marked_pids(root)
        assert all(running(pid) for pid in trials)
        sweep.send_signal(signal.SIGKILL)
        sweep.wait(30)
        deadline = time.monotonic() + 60  # the trials nap for ten minutes unless stopped
        while any(running(pid) for pid in trials) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = [pid for pid in trials if running(pid)]
    finally:
        sweep.kill()
    _stop(*left)
    assert left == [], "trial processes outlived the SIGKILLed sweep"

    # The sweep's parent run and the trials' runs were RUNNING when it died. The next
    # command that opens the tracking store closes them.
    assert "RUNNING" in _runs_by_status(root).values()
    rerun = cli("run", "-p", "seconds=0", cwd=root)
    assert rerun.code == 0, rerun.err
    statuses = _runs_by_status(root)
    assert "RUNNING" not in statuses.values(), statuses
    assert list(statuses.values()).count("KILLED") >= 3  # the sweep's run and both trials'


def test_sigkilled_run_is_closed_by_the_next_cached_run_and_gc_spares_it_while_it_runs(
    tmp_path, cli
):
    root = make_napping_project(tmp_path / "proj")
    first = cli("run", "-p", "seconds=0", cwd=root)
    assert first.code == 0, first.err
    napping = _onepipe(root, "run", "-p", "seconds=600")
    try:
        _wait_for(lambda: len(marked_pids(root)) == 2, 120, "the second run napping")
        staging = list((root / ".onepipe/cache/.staging").glob("*"))
        assert len(staging) == 1  # where the napping step writes its output
        busy = cli("gc", "--json", "--keep-days", "0", "--wait", "0", cwd=root)
        assert busy.code == 0, busy.err
        cache = next(a for a in json.loads(busy.out)["areas"] if a["area"] == "step cache")
        assert "pipeline was still running" in cache["skipped"]
        assert staging[0].is_dir()
        napping.send_signal(signal.SIGKILL)
        napping.wait(30)
    finally:
        napping.kill()
    killed = [run for run, status in _runs_by_status(root).items() if status == "RUNNING"]
    assert len(killed) == 1

    # A fully cached run queues its record for a background writer instead of opening
    # MLflow itself: the killed run is closed by that writer, within a generous deadline.
    cached = cli("run", "-p", "seconds=0", "--json", cwd=root)
    assert cached.code == 0, cached.err
    assert json.loads(cached.out)["tracking"] == "queued"
    deadline = time.monotonic() + 90
    while _runs_by_status(root)[killed[0]] == "RUNNING" and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _runs_by_status(root)[killed[0]] == "KILLED"

    after = cli("gc", "--json", "--keep-days", "0", "--wait", "0", cwd=root)
    swept = next(a for a in json.loads(after.out)["areas"] if a["area"] == "step cache")
    assert swept["kinds"]["abandoned staging folders"]["count"] == 1
    assert not staging[0].exists()
