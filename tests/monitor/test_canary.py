"""Canary verdicts on synthetic logged windows: a per-row loss that fits the task,
compared as a non-inferiority test (rollback / promote / wait), and its statistics."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from onepipe.config.monitor import CanaryThresholds
from onepipe.monitor import canary

T = CanaryThresholds(min_samples=200, min_requests=50)


def _requests(version, preds, truths, per=1, latency=5.0, errors=0):
    """Window rows as the store returns them: one per request of ``per`` labelled rows."""
    out = []
    for i in range(0, len(preds), per):
        out.append(
            {
                "model_name": "m",
                "model_version": version,
                "model_alias": "",
                "shadow": False,
                "status": 200,
                "latency_ms": latency,
                "n_rows": len(preds[i : i + per]),
                "outputs": list(preds[i : i + per]),
                "truth": list(truths[i : i + per]),
                "time": 0.0,
            }
        )
    for row in out[:errors]:
        row.update(status=500, latency_ms=None, outputs=None, truth=None)
    return out


def _regressor(seed, n, noise_sd):
    """(answers, truths) of a regressor whose errors are N(0, noise_sd)."""
    rng = np.random.default_rng(seed)
    truths = rng.normal(100.0, 30.0, n)
    return (truths + rng.normal(0.0, noise_sd, n)).tolist(), truths.tolist()


def _classifier(seed, n, error_rate, classes):
    """(answers, truths) of a classifier wrong on exactly ``error_rate`` of ``n`` rows."""
    rng = np.random.default_rng(seed)
    truths = rng.choice(classes, n)
    preds = truths.copy()
    wrong = rng.choice(n, round(error_rate * n), replace=False)
    for i in wrong:  # any other class
        preds[i] = classes[(list(classes).index(truths[i]) + 1) % len(classes)]
    return preds.tolist(), truths.tolist()


# ---- regression -------------------------------------------------------------------------


def test_clearly_worse_regressor_is_rolled_back():
    # the challenger's live squared error is ~36% above the champion's (sd 58.3 vs 50)
    a = _requests("1", *_regressor(1, 1000, 50.0))
    b = _requests("2", *_regressor(2, 1000, 50.0 * np.sqrt(1.36)))
    v = canary.analyze(a + b, "1", "2", T, task="regression", primary_metric="rmse")
    assert v.verdict == "rollback", v.reason
    assert v.reason.startswith("challenger is significantly worse: mean squared_error")
    test = v.evidence["loss_test"]
    assert v.evidence["task"] == "regression" and v.evidence["loss"] == "squared_error"
    assert test["champion"]["rows"] == test["challenger"]["rows"] == 1000
    assert test["challenger"]["mean"] / test["champion"]["mean"] == pytest.approx(1.36, abs=0.15)
    assert test["lower"] > 0 and test["difference"] > test["lower"]
    assert "%" in v.reason and "lower bound" in v.reason


def test_equal_regressor_is_promoted_given_enough_rows():
    # same error distribution, different draws; requests of 10 rows each
    a = _requests("1", *_regressor(3, 10_000, 50.0), per=10)
    b = _requests("2", *_regressor(4, 10_000, 50.0), per=10)
    v = canary.analyze(a + b, "1", "2", T, task="regression", primary_metric="rmse")
    assert v.verdict == "promote", v.reason
    test = v.evidence["loss_test"]
    assert test["champion"]["requests"] == test["challenger"]["requests"] == 1000
    assert test["margin"] == pytest.approx(T.margin * test["champion"]["mean"])
    assert test["upper"] < test["margin"] and "margin" in v.reason


def test_equal_regressor_waits_with_too_few_rows_for_the_margin():
    # 300 labelled rows per arm pass min_samples but cannot show "within 10%" yet
    a = _requests("1", *_regressor(5, 300, 50.0))
    b = _requests("2", *_regressor(6, 300, 50.0))
    v = canary.analyze(a + b, "1", "2", T, task="regression")
    assert v.verdict == "wait" and "not enough evidence" in v.reason, v.reason
    test = v.evidence["loss_test"]
    assert test["lower"] <= 0 and test["upper"] >= test["margin"]


def test_regression_task_comes_from_the_values_when_unknown():
    a = _requests("1", *_regressor(7, 1000, 50.0))
    b = _requests("2", *_regressor(8, 1000, 50.0 * np.sqrt(1.36)))
    v = canary.analyze(a + b, "1", "2", T)  # nobody said: the float truths do
    assert v.evidence["task"] == "regression" and v.evidence["loss"] == "squared_error"
    assert v.verdict == "rollback", v.reason


def test_loss_follows_the_primary_metric_or_the_config():
    a = _requests("1", *_regressor(9, 1000, 50.0))
    b = _requests("2", *_regressor(10, 1000, 50.0))
    by_metric = canary.analyze(a + b, "1", "2", T, task="regression", primary_metric="mae")
    assert by_metric.evidence["loss"] == "absolute_error"
    mean = by_metric.evidence["loss_test"]["champion"]["mean"]
    assert mean == pytest.approx(50.0 * np.sqrt(2 / np.pi), rel=0.1)  # E|N(0, 50)|
    configured = CanaryThresholds(min_samples=200, min_requests=50, loss="absolute_error")
    assert canary.analyze(a + b, "1", "2", configured, task="regression").evidence["loss"] == (
        "absolute_error"
    )


# ---- classification ---------------------------------------------------------------------


def test_worse_binary_classifier_is_rolled_back():
    a = _requests("1", *_classifier(11, 2000, 0.10, np.array([0, 1])), per=5)
    b = _requests("2", *_classifier(12, 2000, 0.15, np.array([0, 1])), per=5)
    v = canary.analyze(a + b, "1", "2", T, task="binary", primary_metric="roc_auc")
    assert v.verdict == "rollback", v.reason
    assert v.evidence["loss"] == "zero_one" and v.evidence["task"] == "binary"
    test = v.evidence["loss_test"]
    assert (test["champion"]["mean"], test["challenger"]["mean"]) == pytest.approx((0.10, 0.15))
    assert "mean zero_one 0.15 vs 0.1 (+50.0%)" in v.reason


def test_worse_multiclass_classifier_is_rolled_back():
    classes = np.array(["cat", "dog", "fish", "owl"])
    a = _requests("1", *_classifier(13, 1500, 0.20, classes))
    b = _requests("2", *_classifier(14, 1500, 0.28, classes))
    v = canary.analyze(a + b, "1", "2", T)  # string labels: a multiclass task
    assert v.evidence["task"] == "multiclass" and v.evidence["loss"] == "zero_one"
    assert v.verdict == "rollback", v.reason


def test_equal_classifier_is_promoted():
    a = _requests("1", *_classifier(15, 8000, 0.20, np.array([0, 1])), per=4)
    b = _requests("2", *_classifier(16, 8000, 0.20, np.array([0, 1])), per=4)
    v = canary.analyze(a + b, "1", "2", T, task="binary")
    assert v.verdict == "promote", v.reason
    assert v.evidence["loss_test"]["margin"] == pytest.approx(0.02)  # 10% of 0.20


def test_significantly_worse_is_rolled_back_even_inside_the_margin():
    # +8% loss with a 10% margin: non-inferior, yet significantly worse -> never promote
    a = _requests("1", *_classifier(17, 100_000, 0.250, np.array([0, 1])), per=10)
    b = _requests("2", *_classifier(18, 100_000, 0.270, np.array([0, 1])), per=10)
    v = canary.analyze(a + b, "1", "2", T, task="binary")
    test = v.evidence["loss_test"]
    assert test["upper"] < test["margin"] and test["lower"] > 0
    assert v.verdict == "rollback", v.reason


# ---- no information: wait ---------------------------------------------------------------


def test_same_version_waits():
    rows = _requests("3", *_regressor(19, 1000, 50.0))
    v = canary.analyze(rows, "3", "3", T, task="regression")
    assert v.verdict == "wait" and "same version" in v.reason


def test_zero_variance_waits():
    perfect = _requests("1", [1, 0] * 500, [1, 0] * 500)
    also = _requests("2", [0, 1] * 500, [0, 1] * 500)
    v = canary.analyze(perfect + also, "1", "2", T, task="binary")
    assert v.verdict == "wait" and "do not vary" in v.reason, v.reason


def test_too_few_labels_wait():
    a = _requests("1", *_regressor(20, 1000, 50.0))
    b = _requests("2", *_regressor(21, 1000, 50.0))
    for row in b[150:]:  # the challenger has 150 labelled rows of 1000 requests
        row["truth"] = None
    v = canary.analyze(a + b, "1", "2", T, task="regression")
    assert v.verdict == "wait" and "labelled rows: champion 1000, challenger 150" in v.reason
    one_request = _requests("2", *_regressor(22, 400, 50.0), per=400)
    filler = [dict(r, outputs=None, truth=None) for r in _requests("2", [0.0] * 60, [0.0] * 60)]
    v = canary.analyze(a + one_request + filler, "1", "2", T, task="regression")
    assert v.verdict == "wait" and "1 labelled request" in v.reason, v.reason


def test_answers_that_do_not_fit_the_loss_wait():
    labels = _requests("1", ["yes", "no"] * 300, ["yes", "yes"] * 300)
    more = _requests("2", ["no", "no"] * 300, ["yes", "no"] * 300)
    v = canary.analyze(labels + more, "1", "2", T, task="regression")
    assert v.verdict == "wait" and "squared_error needs numeric answers" in v.reason, v.reason


def test_requests_and_guards_come_first():
    a = _requests("1", *_regressor(23, 1000, 50.0))
    few = canary.analyze(a + _requests("2", *_regressor(24, 30, 50.0)), "1", "2", T)
    assert few.verdict == "wait" and "needs 50" in few.reason
    errors = canary.analyze(a + _requests("2", *_regressor(25, 1000, 5.0), errors=50), "1", "2", T)
    assert errors.verdict == "rollback" and "error rate" in errors.reason
    slow = canary.analyze(a + _requests("2", *_regressor(26, 1000, 5.0), latency=20), "1", "2", T)
    assert slow.verdict == "rollback" and "p99" in slow.reason
    assert canary.analyze(a, "1", None, T).verdict == "wait"


# ---- the statistics ---------------------------------------------------------------------


def test_clustered_se_is_the_plain_one_with_one_row_per_request():
    losses = np.random.default_rng(27).exponential(2.0, 500)
    arm = canary.clustered_mean(losses, np.arange(500))
    assert arm.mean == pytest.approx(losses.mean())
    assert arm.se == pytest.approx(stats.sem(losses))
    assert (arm.rows, arm.requests) == (500, 500)


def test_rows_repeated_within_a_request_add_no_information():
    losses = np.random.default_rng(28).exponential(2.0, 300)
    alone = canary.clustered_mean(losses, np.arange(300))
    repeated = canary.clustered_mean(np.repeat(losses, 8), np.repeat(np.arange(300), 8))
    assert repeated.mean == pytest.approx(alone.mean) and repeated.se == pytest.approx(alone.se)
    assert repeated.se > 2 * stats.sem(np.repeat(losses, 8))  # what ignoring requests claims


def test_clustered_se_matches_the_ratio_estimator_by_hand():
    losses = np.array([1.0, 3.0, 2.0, 0.0, 4.0, 4.0])
    requests = np.array([0, 0, 1, 2, 2, 2])
    arm = canary.clustered_mean(losses, requests)
    s, n = np.array([4.0, 2.0, 8.0]), np.array([2, 1, 3])
    m = s.sum() / n.sum()
    assert arm.mean == pytest.approx(m)
    assert arm.se**2 == pytest.approx(3 / 2 * np.sum((s - m * n) ** 2) / n.sum() ** 2)


def test_compare_bounds_and_decisions():
    champion = canary.ArmLoss(mean=10.0, se=0.3, rows=5000, requests=5000)
    challenger = canary.ArmLoss(mean=10.1, se=0.4, rows=5000, requests=5000)
    test = canary.compare(champion, challenger, alpha=0.05, margin=0.1)
    q = stats.norm.ppf(0.95)  # 5000 requests per arm: t with ~9000 df is the normal
    assert test["difference"] == pytest.approx(0.1) and test["se"] == pytest.approx(0.5)
    assert test["lower"] == pytest.approx(0.1 - q * 0.5, abs=1e-3)
    assert test["upper"] == pytest.approx(0.1 + q * 0.5, abs=1e-3)
    assert test["margin"] == pytest.approx(1.0) and test["decision"] == "promote"
    worse = canary.compare(champion, canary.ArmLoss(12.0, 0.4, 5000, 5000), 0.05, 0.1)
    assert worse["decision"] == "rollback" and worse["p_worse"] < 0.05
    # the same numbers from 4 requests per arm: a Student t quantile, wider -> wait
    few = canary.compare(
        canary.ArmLoss(10.0, 0.3, 400, 4), canary.ArmLoss(10.1, 0.4, 400, 4), 0.05, 0.1
    )
    assert few["upper"] > test["upper"] and few["decision"] == "wait"


def test_thresholds_validate_the_loss():
    from pydantic import ValidationError

    assert CanaryThresholds().loss == "auto" and CanaryThresholds().margin == 0.1
    with pytest.raises(ValidationError):
        CanaryThresholds(loss="hinge")
