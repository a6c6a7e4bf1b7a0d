"""Real gateway + real MLServer: logging, feedback, /metrics, CloudEvents, CLI, notebook API.

One gateway per module; the last test stops it and checks no record was lost.
"""

from __future__ import annotations

import json

import httpx
import pytest
from serve_helpers import ROW, RunningGateway, load

pytestmark = pytest.mark.slow
N = 40


@pytest.fixture(scope="module")
def running(project):
    gw = RunningGateway(load(project)).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def answered(running):
    """N single-row predictions + one 2-row request + one refused request."""
    ids = []
    with httpx.Client(base_url=running.url, timeout=30) as c:
        for i in range(N):
            row = {**ROW, "age": 25 + i}
            r = c.post("/predict", json={"instances": [row]})
            assert r.status_code == 200, r.text
            ids.append(r.json()["id"])
        r = c.post("/predict", json={"instances": [ROW, {**ROW, "credit_score": 500}]})
        assert r.status_code == 200
        multi = r.json()["id"]
        bad = c.post("/predict", json={"instances": [{**ROW, "age": "old"}]})
        assert bad.status_code == 422
    return ids, multi


def _monitor(running):
    # the in-process monitor attached to the gateway (for flushing in tests)
    return next(h for h in running.gateway.on_response if hasattr(h, "flush"))


def test_every_request_logged_with_version(running, answered):
    ids, multi = answered
    logger = _monitor(running)
    logger.flush(30)
    recs = logger.store.query(request_ids=[*ids, multi])
    assert {r.request_id for r in recs} == {*ids, multi}
    one = next(r for r in recs if r.request_id == ids[0])
    assert one.model_name == "credit-risk" and one.model_version == "1"
    assert one.model_alias == "champion" and one.status == 200 and one.latency_ms > 0
    assert one.inputs["age"] == [25] and one.outputs in ([0], [1])
    two = next(r for r in recs if r.request_id == multi)
    assert two.n_rows == 2 and len(two.outputs) == 2
    refused = [r for r in logger.store.query() if r.status == 422]
    assert len(refused) == 1 and refused[0].outputs is None


def test_feedback_joined_and_4xx(running, answered):
    ids, multi = answered
    with httpx.Client(base_url=running.url, timeout=30) as c:
        for i, rid in enumerate(ids):
            r = c.post("/feedback", json={"request_id": rid, "truth": i % 2})
            assert r.status_code == 200, r.text
        assert c.post("/feedback", json={"request_id": multi, "truth": [0, 1]}).status_code == 200
        cases = [
            ({"request_id": "no-such-id", "truth": 1}, 404, "no logged prediction"),
            ({"truth": 1}, 422, "request_id: missing"),
            ({"request_id": ids[0]}, 422, "truth: missing"),
            ({"request_id": ids[0], "truth": {"a": 1}}, 422, "truth: expected"),
            ({"request_id": multi, "truth": 1}, 422, "one per row"),
            ([1, 2], 400, "expected a JSON object"),
        ]
        for body, status, message in cases:
            r = c.post("/feedback", json=body)
            assert r.status_code == status and message in r.json()["error"], (body, r.text)
        r = c.post("/feedback", content=b"{not json")
        assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    logger = _monitor(running)
    (rec,) = logger.store.query(request_ids=[ids[1]])
    assert rec.truth == [1]


def test_metrics_exposition(running, answered):
    _monitor(running).flush(30)
    text = httpx.get(f"{running.url}/metrics", timeout=60).text
    for name in (
        "onepipe_requests_total{",
        "onepipe_request_latency_seconds_bucket{",
        "onepipe_feature_drift_psi{",
        "onepipe_live_metric{",
        "onepipe_canary_verdict{",
    ):
        assert name in text, name
    assert 'model_version="1"' in text and 'status="200"' in text and 'status="422"' in text
    assert 'onepipe_live_metric{metric="accuracy",model_version="1"}' in text
    assert 'onepipe_feature_drift_psi{feature="credit_score",model_version="1"}' in text
    assert 'onepipe_canary_verdict{verdict="wait"} 1.0' in text


def test_cloudevents_ingest(running):
    body_req = {"inputs": [{"name": "age", "datatype": "INT64", "shape": [1, 1], "data": [33]}]}
    body_resp = {
        "model_name": "credit-risk",
        "id": "ce-1",
        "outputs": [{"name": "predict", "data": [1]}],
    }
    headers = {
        "ce-id": "ce-1",
        "ce-specversion": "0.3",
        "ce-source": "io.seldon.serving.deployment.credit-risk",
        "ce-modelid": "credit-risk",
        "ce-inferenceservicename": "credit-risk",
        "ce-namespace": "onepipe",
        "ce-endpoint": "canary",
    }
    with httpx.Client(base_url=running.url, timeout=30) as c:
        r = c.post(
            "/api/v1/seldon",
            content=json.dumps(body_req),
            headers={**headers, "ce-type": "io.seldon.serving.inference.request"},
        )
        assert r.status_code == 202, r.text
        r = c.post(
            "/api/v1/seldon",
            content=json.dumps(body_resp),
            headers={**headers, "ce-type": "io.seldon.serving.inference.response"},
        )
        assert r.status_code == 202
        bad = c.post("/api/v1/seldon", content=b"{}", headers={"ce-id": "x", "ce-type": "other"})
        assert bad.status_code == 400 and "ce-type" in bad.json()["error"]
    logger = _monitor(running)
    logger.flush(30)
    (rec,) = logger.store.query(request_ids=["ce-1"])
    assert rec.inputs == {"age": [33]} and rec.outputs == [1] and rec.source == "seldon"


def test_cli_monitor_and_notebook(running, answered, project, capsys, monkeypatch):
    from onepipe import Project
    from onepipe.cli.main import main

    ids, _ = answered
    _monitor(running).flush(30)
    monkeypatch.chdir(project)
    assert main(["monitor", "--json", "--since", "1h"]) == 0
    report = json.loads(capsys.readouterr().out)
    v1 = next(v for v in report["versions"] if v["version"] == "1")
    assert v1["role"] == "champion" and v1["requests"] >= N and v1["metrics"]["labelled"] >= N
    assert {d["feature"] for d in v1["drift"]} >= {"age", "credit_score", "purpose"}
    assert report["canary"]["verdict"] == "wait"

    p = Project(project)
    frame = p.predictions(model="1", since="1h")
    assert len(frame) >= N + 2 and {"age", "prediction", "truth", "model_version"} <= set(frame)
    assert frame.loc[frame.request_id == ids[1], "truth"].tolist() == [1]
    replayed = p.replay(ids[:5], model="credit-risk/2")
    assert len(replayed) == 5 and set(replayed.replay_version) == {"2"}
    same = p.replay(ids[:5], model="credit-risk/1")
    assert same["same"].all()  # the logged version answers the same again


def test_clean_shutdown_loses_nothing(running, project):
    """Requests answered right before the stop are all in the store after it."""
    logger = _monitor(running)
    with httpx.Client(base_url=running.url, timeout=30) as c:
        ids = [c.post("/predict", json={"instances": [ROW]}).json()["id"] for _ in range(25)]
    running.stop()  # uvicorn's clean shutdown -> lifespan exit -> Monitor.close() drains
    from onepipe.monitor.store import open_url

    store = open_url(str(project / ".onepipe" / "predictions.db"))
    assert len(store.query(request_ids=ids)) == 25
    assert logger.written == logger.submitted and logger.dropped == logger.failed == 0
    store.close()
