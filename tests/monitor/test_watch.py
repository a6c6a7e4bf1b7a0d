"""``onepipe watch``: retrain on a new data commit or a drift alert, once per trigger.

Real pipeline runs (in-process runner) and the real MLflow registry of a tmp
project copy (v1 champion on batch 1, v2 challenger); drift comes from logged rows
of batch 4 written straight into the prediction store.
"""

from __future__ import annotations

import json
import time
import uuid

import pandas as pd
import pytest
from serve_helpers import load

pytestmark = pytest.mark.slow
FAST = {"n_estimators": 10}  # the project's 120 trees would only slow the test down


@pytest.fixture(scope="module")
def settings(project):
    return load(project).with_params(**FAST)


def _run_tags(settings, run_id):
    from onepipe.tracking.client import client_for

    return client_for(settings).get_run(run_id).data.tags


def test_nothing_new_nothing_to_do(settings):
    from onepipe.monitor.watch import check_once, state_path

    result = check_once(settings)
    assert result.action == "none" and result.exit_code == 0, result
    assert "already trained on" in result.reason
    state = json.loads(state_path(settings, "loans", "master").read_text())
    assert state["head"] == result.head  # baseline: the commit the champion was trained on


def test_new_commit_retrains_as_challenger(settings, project):
    from onepipe.data import open_store
    from onepipe.monitor.watch import check_once
    from onepipe.tracking.registry import resolve_model

    commit = open_store(settings).put(
        "loans", [project / "data" / "loans" / "batch_2.csv"], message="batch 2"
    )
    result = check_once(settings)
    assert result.action == "retrained", result
    assert result.trigger == f"data-commit loans@{commit.id}"
    assert result.data_ref == commit.ref and result.model_is_new
    challenger = resolve_model(settings, "credit-risk@challenger")
    assert challenger.version == result.model_version == "3"
    tags = _run_tags(settings, result.run_id)
    assert tags["onepipe.trigger"] == result.trigger
    assert json.loads(tags["onepipe.data_commits"]) == [commit.ref]
    assert tags["onepipe.command"] == "onepipe watch --once"
    # the same head again: nothing to do
    again = check_once(settings)
    assert again.action == "none" and again.head == commit.id


def _log_rows(settings, csv, version, n_requests=25, rows=100):
    from onepipe.monitor.protocol import PredictionRecord
    from onepipe.monitor.store import open_store

    df = pd.read_csv(csv).drop(columns=["application_id"])
    now = time.time()
    records = []
    for i in range(n_requests):
        chunk = df.iloc[i * rows : (i + 1) * rows]
        records.append(
            PredictionRecord(
                request_id=uuid.uuid4().hex,
                time=now - 60 + i,
                model_name=settings.model_name,
                model_version=str(version),
                model_alias="champion",
                latency_ms=5.0,
                n_rows=len(chunk),
                inputs={c: chunk[c].tolist() for c in chunk.columns if c != "default"},
                outputs=[0] * len(chunk),
            )
        )
    store = open_store(settings)
    try:
        store.write_batch(records)
    finally:
        store.close()


def test_drift_alert_retrains_once(settings, project):
    from onepipe.monitor.watch import check_once
    from onepipe.serve import deployments

    deployments.deploy(settings, canary=0)  # no gateway: recorded; the champion is serving
    _log_rows(settings, project / "data" / "loans" / "batch_4.csv", "1")
    result = check_once(settings)
    assert result.action == "retrained", result
    assert result.trigger.startswith("drift-alert ")
    features = set(result.trigger.split(" ", 1)[1].split(","))
    assert {"interest_rate", "purpose"} <= features, features
    assert result.drift_alerts["1"]
    assert _run_tags(settings, result.run_id)["onepipe.trigger"] == result.trigger
    # the alert lasts but the data did not change: no second retrain
    again = check_once(settings)
    assert again.action == "none" and "persists" in again.reason
    assert check_once(settings, use_drift=False).action == "none"


def test_cli_once_exit_codes(settings, project, capsys, tmp_path):
    from onepipe.cli.main import main
    from onepipe.data import open_store

    argv = [
        "watch",
        "--once",
        "--json",
        "-c",
        str(project / "onepipe.yaml"),
        "-p",
        "n_estimators=10",
    ]
    assert main([*argv, "--no-drift"]) == 0
    assert json.loads(capsys.readouterr().out)["action"] == "none"
    # a commit the pipeline cannot train on: the run fails, exit 1, the head is not marked seen
    bad = tmp_path / "bad.csv"
    df = pd.read_csv(project / "data" / "loans" / "batch_3.csv").head(50)
    df["credit_score"] = 9999  # outside the valid range: validation fails
    df.to_csv(bad, index=False)
    open_store(settings).put("loans", [bad], message="broken batch")
    assert main([*argv, "--no-drift"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["action"] == "failed" and out["error"] and out["trigger"].startswith("data-commit")
    assert main([*argv, "--no-drift"]) == 1  # retried on the next check, not skipped
