"""Prediction store (SQLite and a real PostgreSQL) and the background logger."""

from __future__ import annotations

import time

import pytest

from onepipe.monitor.logger import PredictionLogger
from onepipe.monitor.postgres_store import PostgresPredictionStore
from onepipe.monitor.protocol import PredictionRecord
from onepipe.monitor.records import from_event
from onepipe.monitor.sqlite_store import SqlitePredictionStore
from onepipe.monitor.store import backend_for_url


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


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.slow)])
def store(request, tmp_path):
    if request.param == "sqlite":
        s = SqlitePredictionStore(tmp_path / "p.db")
    else:
        url = request.getfixturevalue("postgres_url")
        s = PostgresPredictionStore(url)
        with s._conn().transaction():
            s._conn().execute("TRUNCATE onepipe_predictions, onepipe_feedback")
    yield s
    s.close()


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


def test_logger_flushes_on_interval_and_survives_bad_events(tmp_path):
    store = SqlitePredictionStore(tmp_path / "p.db")
    logger = PredictionLogger(store, batch_size=1000, flush_interval_s=0.05)
    logger(_event(1))
    logger({"status": "not-a-number"})  # a broken event is counted, never fatal
    logger.flush(10)
    assert store.count() == 1 and logger.failed == 1
    logger.close()


def test_store_url_selects_backend():
    assert backend_for_url(".onepipe/predictions.db") == ("sqlite", ".onepipe/predictions.db")
    assert backend_for_url("sqlite:///x.db") == ("sqlite", "x.db")
    assert backend_for_url("postgresql://u@h/db")[0] == "postgres"
    from onepipe.errors import ConfigError

    with pytest.raises(ConfigError, match="monitor.store_url"):
        backend_for_url("mysql://h/db")
