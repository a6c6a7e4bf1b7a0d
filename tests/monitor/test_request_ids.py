"""The log owns its record ids; feedback names them and must fit the model.

Real gateway + real MLServer serving the credit-risk classifier (classes 0 and 1).
A client's own V2 ``id`` is checked and kept as data (``client_id``); the answer's
``id`` is always the log's, and it is what ``/feedback`` takes.
"""

from __future__ import annotations

import httpx
import pytest
from serve_helpers import ROW, RunningGateway, load

pytestmark = pytest.mark.slow

V2_TYPES = {int: "INT64", float: "FP64", str: "BYTES"}


def v2(row: dict, **extra) -> dict:
    inputs = [
        {"name": k, "datatype": V2_TYPES[type(v)], "shape": [1, 1], "data": [v]}
        for k, v in row.items()
    ]
    return {"inputs": inputs, **extra}


@pytest.fixture(scope="module")
def running(project):
    gw = RunningGateway(load(project)).start()
    yield gw
    gw.stop()


def _logger(running):
    return next(h for h in running.gateway.on_response if hasattr(h, "flush"))


def test_client_ids_that_cannot_be_ids_get_a_4xx_naming_the_field(running):
    infer = "/v2/models/credit-risk/infer"
    bad = ["line\nbreak", "nul\x00byte", "bell\x07", "x" * 300, 5, ""]
    with httpx.Client(base_url=running.url, timeout=30) as c:
        for value in bad:
            r = c.post(infer, json=v2(ROW, id=value))
            assert r.status_code == 422, (value, r.status_code, r.text)
            assert r.json()["field"] == "id" and "id:" in r.json()["error"]
        r = c.post("/predict", json={"instances": [ROW], "id": "tab\tinside"})
        assert r.status_code == 422 and r.json()["field"] == "id"
        ok = c.post(infer, json=v2(ROW, id="order-17/a b"))  # printable: any such id is fine
        assert ok.status_code == 200 and ok.json()["client_id"] == "order-17/a b"


def test_a_refused_request_reusing_an_id_overwrites_nothing(running):
    infer = "/v2/models/credit-risk/infer"
    with httpx.Client(base_url=running.url, timeout=30) as c:
        first = c.post(infer, json=v2(ROW, id="shared-id"))
        assert first.status_code == 200
        refused = c.post(infer, json=v2({**ROW, "age": "old"}, id="shared-id"))
        assert refused.status_code == 422
    logger = _logger(running)
    logger.flush(30)
    answer_id = first.json()["id"]
    (rec,) = logger.store.query(request_ids=[answer_id])
    assert rec.status == 200 and rec.outputs == first.json()["outputs"][0]["data"]
    assert rec.client_id == "shared-id"
    assert answer_id != "shared-id" and first.json()["client_id"] == "shared-id"
    mine = [r for r in logger.store.query() if r.client_id == "shared-id"]
    assert sorted(r.status for r in mine) == [200, 422]  # two records, each its own


def test_feedback_names_the_logs_id_not_the_clients(running):
    with httpx.Client(base_url=running.url, timeout=30) as c:
        answer = c.post("/v2/models/credit-risk/infer", json=v2(ROW, id="client-42")).json()
        _logger(running).flush(30)
        r = c.post("/feedback", json={"request_id": "client-42", "truth": 1})
        assert r.status_code == 404 and "not one the client chose" in r.json()["error"]
        r = c.post("/feedback", json={"request_id": answer["id"], "truth": 1})
        assert r.status_code == 200, r.text
        r = c.post("/feedback", json={"request_id": "x" * 5000, "truth": 1})
        assert r.status_code == 422 and r.json()["field"] == "request_id"
        assert len(r.text) < 500


def test_feedback_labels_must_be_a_class_of_the_classifier(running):
    with httpx.Client(base_url=running.url, timeout=30) as c:
        ids = [c.post("/predict", json={"instances": [ROW]}).json()["id"] for _ in range(3)]
        _logger(running).flush(30)
        for truth in (1e30, "yes", "x" * 2_000_000, 0.5, True, 2, -1):
            r = c.post("/feedback", json={"request_id": ids[0], "truth": truth})
            assert r.status_code == 422, (str(truth)[:20], r.text[:200])
            body = r.json()
            assert body["field"] == "truth" and "expected one of: 0, 1" in body["error"]
            assert len(r.text) < 500  # a 2 MB label is not echoed back
        assert c.post("/feedback", json={"request_id": ids[0], "truth": 1}).status_code == 200
        assert c.post("/feedback", json={"request_id": ids[1], "truth": 0.0}).status_code == 200
    truths = {r.request_id: r.truth for r in _logger(running).store.query(request_ids=ids)}
    assert truths == {ids[0]: [1], ids[1]: [0], ids[2]: None}
    assert isinstance(truths[ids[1]][0], int)  # 0.0 is stored as the class 0
