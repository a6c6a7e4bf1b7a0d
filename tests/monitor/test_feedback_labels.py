"""Feedback fits the model: a class it knows, or a finite number for regression.

``onepipe monitor serve``'s ``/feedback`` (the cluster path; the gateway mounts the
same routes) against projects holding small real registered models, one per task
(``task_model_projects``): what each version recorded decides what a label may be.
"""

from __future__ import annotations

import time

import pytest
from starlette.testclient import TestClient
from task_model_projects import make_project

from onepipe.monitor.protocol import PredictionRecord
from onepipe.monitor.service import Monitor, build_app

pytestmark = pytest.mark.slow
TWO_MB = "x" * 2_000_000
# task -> (refused labels, what the error says was expected, accepted labels)
CASES = {
    "binary": ([1e30, "yes", TWO_MB, 2, 0.5, True], "expected one of: 0, 1", [1, 0.0]),
    "multiclass": ([3, "two", 1.5, 1e30, TWO_MB], "expected one of: 0, 1, 2", [2, 0]),
    "regression": (["yes", True, "12.5", TWO_MB], "expected a finite number", [12.5, -3, 1e30]),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def served(request, tmp_path_factory):
    project = make_project(tmp_path_factory.mktemp(request.param) / "proj", request.param)
    monitor = Monitor(project.settings())
    monitor.store.write_batch(
        [
            PredictionRecord(f"r{i}", time.time(), "own-model", "1", "champion", n_rows=1)
            for i in range(8)
        ]
        + [PredictionRecord("two-rows", time.time(), "own-model", "1", "champion", n_rows=2)]
    )
    with TestClient(build_app(monitor)) as client:
        yield project, client


def test_a_label_the_model_cannot_have_is_refused(served):
    project, client = served
    refused, expected, accepted = CASES[project.task]
    for value in refused:
        r = client.post("/feedback", json={"request_id": "r0", "truth": value})
        assert r.status_code == 422, (project.task, str(value)[:20], r.text[:300])
        assert r.json()["field"] == "truth" and expected in r.json()["error"]
        assert len(r.text) < 500
    good = accepted[0]
    r = client.post("/feedback", json={"request_id": "two-rows", "truth": [good, refused[0]]})
    assert r.status_code == 422 and r.json()["field"] == "truth[1]"
    for i, value in enumerate(accepted, start=1):
        r = client.post("/feedback", json={"request_id": f"r{i}", "truth": value})
        assert r.status_code == 200, (project.task, value, r.text)


def test_the_signature_output_decides_without_recorded_classes(served):
    """What a version without classes falls back to: the type of its output."""
    from onepipe.monitor.labels import LabelRule, _output_kind

    project, _ = served
    model_dir = project.root / "trained" / "model-1"
    assert _output_kind(model_dir) == ("number" if project.task == "regression" else "integer")
    rule = LabelRule("own-model/1", None, kind=_output_kind(model_dir))
    if project.task == "regression":
        assert rule.check(2.5) == 2.5
        with pytest.raises(ValueError, match="expected a finite number"):
            rule.check("2.5")
    else:
        assert rule.check(1.0) == 1 and isinstance(rule.check(1.0), int)
        for value in (0.5, "yes", True, 1e30):
            with pytest.raises(ValueError, match="expected an integer"):
                rule.check(value)
