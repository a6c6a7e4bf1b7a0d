"""The prediction log survives a killed writer: journal, replay, exactly once.

A writer process (the gateway's Monitor, or ``onepipe serve`` itself) is killed
with SIGKILL while records are queued in memory; whatever was answered must be in
the store afterwards, once, whether a restart or a reading command replays it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from pathlib import Path

import httpx
import pytest
import yaml
from serve_helpers import ROW, load, start_serve, wait_until

from onepipe.monitor.store import open_url

JOURNAL = Path(".onepipe") / "prediction-journal"

# A Monitor exactly as the gateway builds it; events logged, then the process dies
# before its writer's next flush (60 s away).
KILLED_WRITER = """
import os, signal, sys, time
from onepipe.config import load_settings
from onepipe.monitor.service import Monitor

monitor = Monitor(load_settings(sys.argv[1], env="dev", user="tester"))
ids = []
for i in range(int(sys.argv[2])):
    event = {
        "model_name": "m", "model_version": "1", "model_alias": "champion", "shadow": False,
        "status": 200, "latency_ms": 1.0, "time": time.time(),
        "request": {"inputs": [{"name": "x", "datatype": "FP64", "shape": [1, 1], "data": [i]}]},
        "response": {"id": f"r{i}", "outputs": [{"name": "predict", "data": [i % 2]}]},
    }
    monitor.logger(event)  # the gateway's on_response hook
    ids.append(event.get("request_id") or f"r{i}")  # the log's id (the gateway's, live)
print(" ".join(ids), flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def _project(root: Path, **monitor) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    config = {
        "project": "durable",
        "model": {"name": "m"},
        "tracking": {"uri": "sqlite:///.onepipe/mlflow.db"},
        "monitor": {"flush_interval_s": 60, **monitor},
    }
    (root / "onepipe.yaml").write_text(yaml.safe_dump(config))
    return root


def _kill_a_writer(root: Path, n: int) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", KILLED_WRITER, str(root / "onepipe.yaml"), str(n)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == -signal.SIGKILL, out.stderr
    ids = out.stdout.split()
    assert len(ids) == n
    return ids


def test_a_reading_command_replays_what_a_killed_writer_left(tmp_path):
    from onepipe.monitor.store import open_store

    root = _project(tmp_path / "p")
    ids = _kill_a_writer(root, 300)  # all 300 were in memory only when it died

    store = open_store(load(root))  # what `onepipe monitor`, the report, the notebook open
    try:
        got = store.query(request_ids=ids)
        assert sorted(r.request_id for r in got) == sorted(ids)
        assert store.count() == 300
        assert {tuple(r.outputs) for r in got} == {(0,), (1,)}
    finally:
        store.close()
    assert not list((root / JOURNAL).glob("*.seg"))  # replayed once, then gone
    store = open_store(load(root))
    try:
        assert store.count() == 300
    finally:
        store.close()


def test_replay_is_exactly_once_and_skips_a_torn_tail(tmp_path):
    """A writer killed after its batch committed but before the segment went: the segment
    is replayed onto rows that are already there. A power cut can tear the last line."""
    from onepipe.monitor.journal import replay

    root = _project(tmp_path / "p")
    ids = _kill_a_writer(root, 50)
    (segment,) = (root / JOURNAL).glob("*.seg")
    saved = segment.read_bytes()
    store = open_url(str(tmp_path / "other.db"))
    try:
        assert replay(root / JOURNAL, store) == 50
        segment.write_bytes(saved + saved.splitlines(keepends=True)[0][:40])  # back, torn
        assert replay(root / JOURNAL, store) == 50
        assert store.count() == 50
        assert Counter(r.request_id for r in store.query()) == Counter(ids)
        assert not segment.exists()
    finally:
        store.close()


def test_a_live_writers_segments_are_left_alone(tmp_path):
    from onepipe.monitor.journal import Journal, encode, replay

    journal = Journal(tmp_path / "j")
    journal.append(encode({"request_id": "live-1", "model_name": "m", "model_version": "1"}))
    store = open_url(str(tmp_path / "p.db"))
    try:
        assert replay(tmp_path / "j", store) == 0  # its owner still holds it
        assert store.count() == 0
        (seg,) = journal._segments
        journal.settle(seg, 1)
        journal.close()  # sealed and settled: the owner deletes it
        assert not list((tmp_path / "j").glob("*.seg"))
    finally:
        store.close()


# ---- `onepipe serve` killed under load ------------------------------------------------


def _kill_mlserver(project: Path) -> None:
    """SIGKILL leaves the gateway's MLServer behind (its own session): end it here."""
    log = project / ".onepipe" / "serve" / "mlserver.log"
    for line in reversed(log.read_text().splitlines()):
        if "Started server process [" in line:
            pid = int(line.split("[")[-1].split("]")[0])
            try:
                os.killpg(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return


@pytest.mark.slow
def test_sigkilled_gateway_loses_no_answered_prediction(project):
    cfg = yaml.safe_load((project / "onepipe.yaml").read_text())
    cfg["monitor"]["flush_interval_s"] = 30  # everything answered is still queued in memory
    (project / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc, url = start_serve(project)
    answered: list[str] = []
    stop = threading.Event()

    def client(k: int) -> None:
        with httpx.Client(base_url=url, timeout=10) as c:
            i = 0
            while not stop.is_set():
                try:
                    r = c.post("/predict", json={"instances": [{**ROW, "age": 20 + (i + k) % 50}]})
                except httpx.HTTPError:
                    return  # the gateway is gone
                if r.status_code == 200:
                    answered.append(r.json()["id"])
                i += 1

    clients = [threading.Thread(target=client, args=(k,)) for k in range(3)]
    try:
        for t in clients:
            t.start()
        assert wait_until(lambda: len(answered) >= 150, timeout=120)
        proc.send_signal(signal.SIGKILL)  # while the clients are still sending
        proc.wait(30)
    finally:
        stop.set()
        for t in clients:
            t.join(30)
        _kill_mlserver(project)
    assert len(set(answered)) == len(answered)  # the log's ids are unique per answer

    proc, url = start_serve(project)  # replays the killed gateway's journal at start
    try:
        store = open_url(str(project / ".onepipe" / "predictions.db"))
        try:
            logged = Counter(r.request_id for r in store.query(request_ids=answered))
        finally:
            store.close()
        missing = set(answered) - set(logged)
        assert not missing, f"{len(missing)} of {len(answered)} answered predictions lost"
        assert set(logged.values()) == {1}
        left = [p.name for p in (project / JOURNAL).glob("*.seg")]
        assert all(name.startswith(f"{proc.pid}-") for name in left), left  # only its own
    finally:
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    assert "Traceback" not in stderr


def test_a_store_from_before_client_ids_opens_and_keeps_its_rows(tmp_path):
    import sqlite3

    db = tmp_path / "old.db"
    with sqlite3.connect(db) as conn:  # the table as it was created before client_id
        conn.execute(
            "CREATE TABLE onepipe_predictions (request_id TEXT NOT NULL, time REAL NOT NULL, "
            "model_name TEXT NOT NULL, model_version TEXT NOT NULL, model_alias TEXT NOT NULL, "
            "shadow INTEGER NOT NULL, status INTEGER NOT NULL, latency_ms REAL, "
            "n_rows INTEGER NOT NULL, inputs TEXT, outputs TEXT, source TEXT NOT NULL, "
            "PRIMARY KEY (request_id, model_version))"
        )
        conn.execute(
            "INSERT INTO onepipe_predictions VALUES "
            "('old', 1.0, 'm', '1', 'champion', 0, 200, 1.0, 1, NULL, '[1]', 'gateway')"
        )
    from onepipe.monitor.protocol import PredictionRecord

    store = open_url(str(db))
    try:
        store.write_batch([PredictionRecord("new", 2.0, "m", "1", client_id="order-9")])
        got = {r.request_id: r for r in store.query()}
        assert got["old"].outputs == [1] and got["old"].client_id is None
        assert got["new"].client_id == "order-9"
    finally:
        store.close()


def test_records_the_store_refused_stay_in_the_journal(tmp_path):
    """The store goes away (a PostgreSQL restart, a locked file): nothing is dropped."""
    from onepipe.monitor.journal import Journal, replay
    from onepipe.monitor.logger import PredictionLogger

    store = open_url(str(tmp_path / "p.db"))
    logger = PredictionLogger(store, flush_interval_s=60, journal=Journal(tmp_path / "j"))
    store.close()  # every write now fails
    for i in range(20):
        logger({"model_name": "m", "model_version": "1", "status": 200, "time": float(i)})
    logger.close()  # tries (twice), gives up, keeps the lines
    assert logger.failed == 20 and logger.written == 0
    again = open_url(str(tmp_path / "p.db"))
    try:
        assert replay(tmp_path / "j", again) == 20
        assert again.count() == 20
    finally:
        again.close()


def test_an_unwritable_journal_dir_is_a_one_line_error(tmp_path, cli):
    root = _project(tmp_path / "p", journal_dir="onepipe.yaml/journal")  # under a file
    result = cli("monitor", "serve", "--port", "0", cwd=root)
    assert result.code == 2 and "Traceback" not in result.err
    errors = [line for line in result.err.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith("error: monitor.journal_dir: cannot write")
