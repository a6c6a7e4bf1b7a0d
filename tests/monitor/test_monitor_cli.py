"""`onepipe monitor drift-check` and `onepipe canary analyze [--auto]` on a real registry."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest
import yaml
from onepipe_testkit import labelled_traffic
from serve_helpers import load

from onepipe.monitor.protocol import PredictionRecord

pytestmark = pytest.mark.slow


def _records(
    frame: pd.DataFrame, version: str, start: int, per: int = 25
) -> list[PredictionRecord]:
    from components.lib import schema

    out, now = [], time.time()
    for i in range(0, len(frame), per):
        chunk = frame.iloc[i : i + per]
        out.append(
            PredictionRecord(
                request_id=f"{version}-{start + i}",
                time=now,
                model_name="credit-risk",
                model_version=version,
                model_alias="champion",
                latency_ms=3.0,
                n_rows=len(chunk),
                inputs={c: chunk[c].tolist() for c in schema.FEATURES},
                outputs=[0] * len(chunk),
            )
        )
    return out


def _run(project, monkeypatch, capsys, *argv):
    from onepipe.cli.main import main

    monkeypatch.chdir(project)
    code = main(list(argv))
    return code, capsys.readouterr()


def test_profile_is_an_artifact_of_each_version(project):
    from onepipe.monitor.profile import profile_for_version

    settings = load(project)
    for version in ("1", "2"):
        profile = profile_for_version(settings, "credit-risk", version)
        assert set(profile["numeric"]) >= {"age", "credit_score"} and profile["rows"] > 1000


def test_drift_check_exit_codes(project, monkeypatch, capsys, template):
    from onepipe.monitor.store import open_store

    settings = load(project)
    store = open_store(settings)
    batch2 = pd.read_csv(template / "data" / "loans" / "batch_2.csv")
    store.write_batch(_records(batch2, "1", 0))
    code, cap = _run(project, monkeypatch, capsys, "monitor", "drift-check", "--json")
    assert code == 0, cap.err
    assert json.loads(cap.out)["alerts"] == {}
    batch4 = pd.read_csv(template / "data" / "loans" / "batch_4.csv")
    with store._lock:  # start a fresh window: only batch 4 is live
        store._conn().execute("DELETE FROM onepipe_predictions")
    store.write_batch(_records(batch4, "1", 10_000))
    store.close()
    code, cap = _run(project, monkeypatch, capsys, "monitor", "drift-check")
    assert code == 1
    assert "interest_rate" in cap.err and "annual_income" in cap.err
    code, cap = _run(project, monkeypatch, capsys, "monitor", "--since", "10m")
    assert code == 0 and "ALERT" in cap.out and "interest_rate" in cap.out


def test_canary_analyze_auto_promotes_and_records_reason(project, monkeypatch, capsys):
    from onepipe.monitor.store import open_store
    from onepipe.serve import deployments

    settings = load(project)
    deployments.deploy(settings, canary=20, reason="canary for analysis")  # no gateway: recorded
    time.sleep(0.05)
    store = open_store(settings)
    with store._lock:
        store._conn().execute("DELETE FROM onepipe_predictions")
    labelled_traffic(store, {"1": 780, "2": 860}, "c")
    store.close()

    code, cap = _run(project, monkeypatch, capsys, "canary", "analyze", "--json")
    assert code == 0
    result = json.loads(cap.out)
    assert result["verdict"] == "promote" and result["applied"] is None
    assert (result["evidence"]["task"], result["evidence"]["loss"]) == ("binary", "zero_one")
    test = result["evidence"]["loss_test"]
    assert (test["champion"]["mean"], test["challenger"]["mean"]) == pytest.approx((0.22, 0.14))
    assert test["upper"] < test["margin"] == pytest.approx(0.1 * 0.22)

    code, cap = _run(project, monkeypatch, capsys, "canary", "analyze", "--auto")
    assert code == 0, cap.err
    assert cap.out.startswith("promote:") and "promoted credit-risk v2" in cap.err
    latest = deployments.history(settings, limit=1)[0]
    assert latest.action == "promote" and latest.state.champion == "2"
    assert (latest.state.challenger, latest.state.canary) == (None, 0)  # all traffic to v2
    assert latest.reason.startswith("canary analyze --auto: promote")


def test_canary_analyze_auto_rollback_withdraws_only_the_live_challenger(
    project, monkeypatch, capsys
):
    from onepipe.monitor.store import open_store
    from onepipe.serve import deployments
    from onepipe.tracking.registry import promote

    settings = load(project)
    # v1 champion, v2 challenger at 30% (the previous test may have promoted v2: undo that).
    promote(settings, settings.model_name, "1")
    deployments.deploy(settings, canary=30, challenger="2", reason="canary for analysis")
    store = open_store(settings)
    with store._lock:
        store._conn().execute("DELETE FROM onepipe_predictions")
    labelled_traffic(store, {"1": 860, "2": 700}, "r")  # the challenger is clearly worse
    store.close()

    from onepipe.app.canary import apply_verdict, evidence_of
    from onepipe.errors import UsageError
    from onepipe.monitor.report import analyze_canary
    from onepipe.monitor.windows import since_from

    store = open_store(settings)
    stale = analyze_canary(settings, store, since=since_from(None, settings.monitor.window))
    store.close()
    assert (stale.verdict, stale.challenger) == ("rollback", "2")

    code, cap = _run(project, monkeypatch, capsys, "canary", "analyze", "--auto")
    assert code == 0, cap.err
    assert cap.out.startswith("rollback:")
    latest = deployments.history(settings, limit=1)[0]
    assert latest.action == "rollback" and latest.reason.startswith("canary analyze --auto")
    assert (latest.state.champion, latest.state.challenger, latest.state.canary) == ("1", None, 0)
    assert evidence_of(latest)["loss_test"]["decision"] == "rollback"  # the numbers it acted on

    # A verdict computed before that change: v2 gets no traffic now, so nothing is undone.
    with pytest.raises(UsageError, match="does not route to challenger v2"):
        apply_verdict(settings, stale)
    assert deployments.history(settings, limit=1)[0].id == latest.id  # nothing recorded


@contextmanager
def _regression_project(project):
    """The project declares a regression model (``model.task``, RMSE first) for a while."""
    path = project / "onepipe.yaml"
    before = path.read_text()
    cfg = yaml.safe_load(before)
    cfg["model"].update(task="regression", metrics=["rmse", "mae"])
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    try:
        yield load(project)
    finally:
        path.write_text(before)


def _regression_traffic(store, noise_sd: dict[str, float], prefix: str, n: int, seed: int):
    """``n`` one-row requests per version with float answers and truths; each version's
    errors are N(0, noise_sd[version])."""
    rng = np.random.default_rng(seed)
    now, recs, truths = time.time(), [], {}
    for version, sd in noise_sd.items():
        for i in range(n):
            truth = float(rng.normal(100.0, 30.0))
            rid = f"{prefix}{version}-{i}"
            truths[rid] = truth
            recs.append(
                PredictionRecord(
                    rid,
                    now,
                    "credit-risk",
                    version,
                    "",
                    latency_ms=4.0,
                    n_rows=1,
                    inputs={"age": [40]},
                    outputs=[truth + float(rng.normal(0.0, sd))],
                )
            )
    store.write_batch(recs)
    for rid, truth in truths.items():
        store.add_feedback(rid, [truth])


def _canary_of_v2(settings, store) -> None:
    from onepipe.serve import deployments
    from onepipe.tracking.registry import promote

    promote(settings, settings.model_name, "1")
    deployments.deploy(settings, canary=30, challenger="2", reason="canary for analysis")
    with store._lock:
        store._conn().execute("DELETE FROM onepipe_predictions")


def test_canary_analyze_auto_rolls_back_a_worse_regressor(project, monkeypatch, capsys):
    """Exact-match accuracy is 0 for both regressors, which used to read as "no worse":
    the challenger's squared error is ~36% above the champion's, so it is withdrawn."""
    from onepipe.monitor.store import open_store
    from onepipe.serve import deployments

    with _regression_project(project) as settings:
        store = open_store(settings)
        _canary_of_v2(settings, store)
        _regression_traffic(store, {"1": 50.0, "2": 50.0 * np.sqrt(1.36)}, "g", 1000, seed=3)
        store.close()
        code, cap = _run(project, monkeypatch, capsys, "canary", "analyze", "--json")
        assert code == 0, cap.err
        result = json.loads(cap.out)
        assert result["verdict"] == "rollback", result["reason"]
        assert (result["evidence"]["task"], result["evidence"]["loss"]) == (
            "regression",
            "squared_error",
        )
        test = result["evidence"]["loss_test"]
        ratio = test["challenger"]["mean"] / test["champion"]["mean"]
        assert ratio == pytest.approx(1.36, abs=0.15)

        code, cap = _run(project, monkeypatch, capsys, "canary", "analyze", "--auto")
        assert code == 0, cap.err
        assert cap.out.startswith("rollback: challenger is significantly worse: mean squared_error")
    latest = deployments.history(settings, limit=1)[0]
    assert latest.action == "rollback" and "squared_error" in latest.reason
    assert (latest.state.champion, latest.state.challenger, latest.state.canary) == ("1", None, 0)


def test_canary_analyze_auto_waits_without_enough_evidence(project, monkeypatch, capsys):
    """Equal regressors on 300 labelled rows each: not yet shown within the margin, so
    --auto changes nothing (it used to promote: both exact-match accuracies were 0)."""
    from onepipe.monitor.store import open_store
    from onepipe.serve import deployments

    with _regression_project(project) as settings:
        store = open_store(settings)
        _canary_of_v2(settings, store)
        _regression_traffic(store, {"1": 50.0, "2": 50.0}, "w", 300, seed=4)
        store.close()
        before = deployments.history(settings, limit=1)[0]
        code, cap = _run(project, monkeypatch, capsys, "canary", "analyze", "--auto")
    assert code == 0, cap.err
    assert cap.out.startswith("wait: not enough evidence either way: mean squared_error")
    assert "--auto: nothing to apply (wait)" in cap.err
    latest = deployments.history(settings, limit=1)[0]
    assert latest.id == before.id
    assert (latest.state.champion, latest.state.challenger, latest.state.canary) == ("1", "2", 30)
