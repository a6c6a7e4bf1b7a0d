"""Drift on the shipped batches; canary verdicts on synthetic logged windows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from components.lib import schema
from onepipe.config.monitor import CanaryThresholds, DriftThresholds
from onepipe.monitor import canary, drift
from onepipe.monitor.profile import build_profile
from onepipe.monitor.windows import parse_duration, version_stats

REPO = Path(__file__).resolve().parents[2]

LOANS = REPO / "data" / "loans"


@pytest.fixture(scope="module")
def profile():
    frame = pd.read_csv(LOANS / "batch_1.csv")
    return build_profile(
        frame,
        numeric=schema.NUMERIC_FEATURES,
        categorical=schema.CATEGORICAL_FEATURES,
        label=schema.LABEL,
    )


def test_batch4_alerts_on_several_features(profile):
    results = drift.compare(profile, pd.read_csv(LOANS / "batch_4.csv"), DriftThresholds())
    alerts = {r.feature for r in results if r.status == "alert"}
    assert {
        "annual_income",
        "interest_rate",
        "credit_score",
        "employment_type",
        "purpose",
    } <= alerts
    by = {r.feature: r for r in results}
    assert by["interest_rate"].psi > 1.0 and by["interest_rate"].pvalue < 1e-6
    assert by["age"].status == "ok"
    assert drift.worst(results) == "alert"


def test_batch2_does_not_alert(profile):
    results = drift.compare(profile, pd.read_csv(LOANS / "batch_2.csv"), DriftThresholds())
    assert not [r.feature for r in results if r.status == "alert"]
    assert max(r.psi for r in results) < 0.1


def test_binned_ks_close_to_exact(profile):
    from scipy.stats import ks_2samp

    ref = pd.read_csv(LOANS / "batch_1.csv")["credit_score"].to_numpy(float)
    live = pd.read_csv(LOANS / "batch_4.csv")["credit_score"].to_numpy(float)
    _, d, _, _, _ = drift.numeric_drift(profile["numeric"]["credit_score"], live)
    exact = ks_2samp(ref, live).statistic
    assert d <= exact + 1e-9 and exact - d < 0.03  # a lower bound within a percentile step


def test_too_few_rows_and_unseen_categories(profile):
    live = {"age": np.array([30.0] * 10), "region": ["mars"] * 500}
    by = {r.feature: r for r in drift.compare(profile, live, DriftThresholds())}
    assert by["age"].status == "n/a"
    assert by["region"].status == "alert" and by["region"].psi > 1


def _rows(version, n, correct, labelled=None, errors=0, latency=5.0):
    labelled = n if labelled is None else labelled
    rows = []
    for i in range(n):
        ok = i >= errors
        rows.append(
            {
                "model_name": "m",
                "model_version": version,
                "model_alias": "",
                "shadow": False,
                "status": 200 if ok else 500,
                "latency_ms": latency if ok else None,
                "n_rows": 1,
                "outputs": [1] if i < labelled else None,
                "truth": ([1] if i < correct else [0]) if i < labelled else None,
                "time": 0.0,
            }
        )
    return rows


T = CanaryThresholds(min_samples=200, min_requests=50)


def test_canary_promote():
    v = canary.analyze(_rows("1", 1000, 800) + _rows("2", 1000, 860), "1", "2", T)
    assert v.verdict == "promote", v.reason
    test = v.evidence["loss_test"]  # error rate 0.14 vs 0.20: within 10% of 0.20, surely
    assert test["difference"] == pytest.approx(-0.06) and test["p_noninferior"] < 0.01


def test_canary_rollback_on_quality():
    v = canary.analyze(_rows("1", 1000, 850) + _rows("2", 1000, 700), "1", "2", T)
    assert v.verdict == "rollback" and "significantly worse" in v.reason


def test_canary_wait_cases():
    few = canary.analyze(_rows("1", 1000, 800) + _rows("2", 30, 25), "1", "2", T)
    assert few.verdict == "wait" and "needs 50" in few.reason
    unlabelled = canary.analyze(
        _rows("1", 1000, 800) + _rows("2", 1000, 100, labelled=100), "1", "2", T
    )
    assert unlabelled.verdict == "wait" and "labelled" in unlabelled.reason
    tie = canary.analyze(_rows("1", 400, 320) + _rows("2", 400, 316), "1", "2", T)
    assert tie.verdict == "wait" and "not enough evidence" in tie.reason
    assert canary.analyze([], "1", None, T).verdict == "wait"


def test_canary_guards():
    errors = canary.analyze(_rows("1", 500, 400) + _rows("2", 500, 450, errors=50), "1", "2", T)
    assert errors.verdict == "rollback" and "error rate" in errors.reason
    slow = canary.analyze(
        _rows("1", 500, 400, latency=5) + _rows("2", 500, 450, latency=20), "1", "2", T
    )
    assert slow.verdict == "rollback" and "p99" in slow.reason


def test_window_stats_and_durations():
    stats = version_stats(_rows("1", 100, 90, errors=10))
    s = stats["1"]
    assert s.requests == 100 and s.error_rate == pytest.approx(0.1)
    assert s.metrics["accuracy"] == pytest.approx(0.9) and s.latency_p50_ms == 5.0
    assert parse_duration("1h") == 3600 and parse_duration("30m") == 1800
    from onepipe.errors import UsageError

    with pytest.raises(UsageError):
        parse_duration("soon")
