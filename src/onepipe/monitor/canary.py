"""Canary analysis: challenger vs champion on the same window -> promote, rollback or wait.

Order of the checks (the first that decides wins):
1. each arm needs ``min_requests`` requests, else **wait**;
2. guards: challenger error rate above the champion's by more than
   ``max_error_rate_increase``, or challenger p99 latency above ``max_p99_ratio``
   times the champion's -> **rollback**;
3. quality needs ``min_samples`` labelled rows (feedback) per arm, from at least two
   requests each, else **wait**;
4. the mean per-row loss that fits the task (``quality.losses.loss_for``: 0/1 loss
   for a classifier, squared error for a regressor, ...), lower is better. With
   d = challenger - champion and one-sided bounds at level ``alpha``:
   lower bound of d above 0 -> **rollback** (significantly worse); upper bound below
   ``margin`` x the champion's mean loss -> **promote** (non-inferior); else **wait**.
   Rollback is tested first, so a significantly worse challenger is never promoted.

A comparison that carries no information waits and says why: both arms the same
version, losses that do not vary, answers that do not fit the loss.

The standard error of each arm's mean is clustered by request: a request's rows
share its inputs' batch and its feedback, so they are not independent draws, and
counting them as such would make a few large requests look like strong evidence.
The bounds use a Student t quantile with Welch-Satterthwaite degrees of freedom
(k - 1 per arm for k labelled requests), which is the normal quantile once there
are many requests and honestly wider when there are few.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.stats import t as student_t

from onepipe.monitor.windows import VersionStats, version_stats
from onepipe.quality.losses import loss_for, row_losses
from onepipe.quality.tasks import task_of_values

VERDICTS = ("promote", "rollback", "wait")


@dataclass
class Verdict:
    verdict: str
    reason: str
    champion: str | None
    challenger: str | None
    evidence: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ArmLoss:
    """One arm's mean per-row loss with its request-clustered standard error, over
    ``rows`` labelled rows from ``requests`` labelled requests."""

    mean: float
    se: float
    rows: int
    requests: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def clustered_mean(losses: np.ndarray, requests: np.ndarray) -> ArmLoss:
    """Mean of ``losses`` and its standard error clustered by ``requests`` (one id per row).

    Ratio estimator over k requests with loss sums S_i and row counts n_i:
    m = sum S_i / sum n_i, var(m) = k/(k-1) * sum (S_i - m n_i)^2 / (sum n_i)^2;
    with one row per request this is the usual s / sqrt(n). NaN se for k < 2.
    """
    losses = np.asarray(losses, dtype=float)
    _, cluster = np.unique(np.asarray(requests), return_inverse=True)
    sums = np.bincount(cluster, weights=losses)
    counts = np.bincount(cluster).astype(float)
    k, total = len(sums), float(counts.sum())
    mean = float(sums.sum() / total)
    if k < 2:
        return ArmLoss(mean, math.nan, int(total), k)
    var = k / (k - 1) * float(np.sum((sums - mean * counts) ** 2)) / total**2
    return ArmLoss(mean, math.sqrt(var), int(total), k)


def compare(champion: ArmLoss, challenger: ArmLoss, alpha: float, margin: float) -> dict[str, Any]:
    """Non-inferiority of the challenger's mean loss within ``margin`` x the champion's.

    ``decision``: rollback (lower bound of d above 0), promote (upper bound below the
    margin), else wait. Needs se > 0 (the caller waits otherwise).
    """
    d = challenger.mean - champion.mean
    se = math.hypot(champion.se, challenger.se)
    df = se**4 / (
        champion.se**4 / max(champion.requests - 1, 1)
        + challenger.se**4 / max(challenger.requests - 1, 1)
    )
    q = float(student_t.ppf(1 - alpha, df))
    absolute_margin = margin * champion.mean
    lower, upper = d - q * se, d + q * se
    decision = "rollback" if lower > 0 else "promote" if upper < absolute_margin else "wait"
    return {
        "champion": champion.to_dict(),
        "challenger": challenger.to_dict(),
        "difference": d,
        "relative_difference": d / champion.mean if champion.mean > 0 else None,
        "se": se,
        "df": df,
        "quantile": q,
        "lower": lower,
        "upper": upper,
        "margin": absolute_margin,
        "margin_relative": margin,
        "alpha": alpha,
        "p_worse": float(student_t.sf(d / se, df)),  # H0: d <= 0
        "p_noninferior": float(student_t.cdf((d - absolute_margin) / se, df)),  # H0: d >= margin
        "decision": decision,
    }


@dataclass
class _Labelled:
    """An arm's labelled rows, flattened, with the request each row came from."""

    preds: list[Any]
    truths: list[Any]
    requests: np.ndarray


def _labelled(rows: list[dict[str, Any]]) -> _Labelled:
    preds: list[Any] = []
    truths: list[Any] = []
    request: list[int] = []
    for i, r in enumerate(rows):
        truth, out = r.get("truth"), r.get("outputs")
        if truth is None or out is None or len(truth) != len(out):
            continue
        preds.extend(out)
        truths.extend(truth)
        request.extend([i] * len(out))
    return _Labelled(preds, truths, np.asarray(request, dtype=int))


def _num(x: float) -> str:
    return f"{x:.4g}"


def analyze(
    rows: list[dict[str, Any]],
    champion: str | None,
    challenger: str | None,
    thresholds: Any,
    *,
    task: str | None = None,
    primary_metric: str | None = None,
) -> Verdict:
    """``rows``: the store's window rows (both arms, same time window). ``task``: the
    model's task when known (``monitor.task.task_for``), else the values decide;
    ``primary_metric``: the project's first metric, which picks the loss under ``auto``."""
    if not champion or not challenger:
        return Verdict(
            "wait", "no challenger is deployed (nothing to compare)", champion, challenger
        )
    champion, challenger = str(champion), str(challenger)
    stats = version_stats(rows, tasks={champion: task, challenger: task} if task else None)
    a = stats.get(champion) or VersionStats("", champion, "", 0, 0, 0, None, None)
    b = stats.get(challenger) or VersionStats("", challenger, "", 0, 0, 0, None, None)
    ev: dict[str, Any] = {
        "champion": a.to_dict(),
        "challenger": b.to_dict(),
        "thresholds": thresholds.model_dump() if hasattr(thresholds, "model_dump") else {},
    }

    def verdict(kind: str, reason: str) -> Verdict:
        return Verdict(kind, reason, champion, challenger, ev)

    if champion == challenger:
        return verdict(
            "wait",
            f"champion and challenger are the same version v{champion}: identical by "
            "construction, nothing to compare (deploy another version as the challenger)",
        )
    t = thresholds
    for name, arm in (("champion", a), ("challenger", b)):
        if arm.requests < t.min_requests:
            return verdict(
                "wait",
                f"{name} v{arm.model_version} has {arm.requests} requests (needs {t.min_requests})",
            )
    increase = b.error_rate - a.error_rate
    ev["error_rate_increase"] = increase
    if increase > t.max_error_rate_increase:
        return verdict(
            "rollback",
            f"challenger error rate {b.error_rate:.1%} vs champion {a.error_rate:.1%} "
            f"(+{increase:.1%} > {t.max_error_rate_increase:.1%} allowed)",
        )
    if a.latency_p99_ms and b.latency_p99_ms:
        ratio = b.latency_p99_ms / a.latency_p99_ms
        ev["p99_ratio"] = ratio
        if ratio > t.max_p99_ratio:
            return verdict(
                "rollback",
                f"challenger p99 latency {b.latency_p99_ms:.1f} ms is {ratio:.2f}x the champion's "
                f"{a.latency_p99_ms:.1f} ms (> {t.max_p99_ratio}x allowed)",
            )
    la = _labelled([r for r in rows if str(r["model_version"]) == champion])
    lb = _labelled([r for r in rows if str(r["model_version"]) == challenger])
    n1, n2 = len(la.preds), len(lb.preds)
    ev["labelled"] = {"champion": n1, "challenger": n2}
    if min(n1, n2) < t.min_samples:
        return verdict(
            "wait",
            f"labelled rows: champion {n1}, challenger {n2} (needs {t.min_samples} each; "
            "send ground truth to POST /feedback)",
        )
    for name, arm in (("champion", la), ("challenger", lb)):
        k = len(np.unique(arm.requests))
        if k < 2:
            return verdict(
                "wait",
                f"{name}'s {len(arm.preds)} labelled rows come from {k} labelled request "
                "(a standard error needs at least 2 per arm; send feedback for more requests)",
            )
    task = task or task_of_values([*la.truths, *lb.truths, *la.preds, *lb.preds])
    loss = loss_for(task, primary_metric, t.loss)
    ev["task"], ev["loss"] = task, loss
    try:
        losses_a = row_losses(loss, la.preds, la.truths)
        losses_b = row_losses(loss, lb.preds, lb.truths)
    except ValueError as exc:
        return verdict(
            "wait",
            f"the answers do not fit the {loss} loss ({exc}; task {task or 'unknown'}): "
            "set model.task or monitor.canary.loss to match what the model answers",
        )
    undefined = int(np.sum(~np.isfinite(losses_a)) + np.sum(~np.isfinite(losses_b)))
    if undefined:
        return verdict(
            "wait",
            f"{undefined} labelled rows have no finite {loss} (NaN or infinite answers or "
            "truths): fix what the model answers or the feedback sent",
        )
    arm_a = clustered_mean(losses_a, la.requests)
    arm_b = clustered_mean(losses_b, lb.requests)
    means = f"mean {loss} {_num(arm_b.mean)} vs {_num(arm_a.mean)}"
    constant = np.ptp(losses_a) == 0 and np.ptp(losses_b) == 0
    if constant or not math.hypot(arm_a.se, arm_b.se) > 0:
        ev["loss_test"] = {"champion": arm_a.to_dict(), "challenger": arm_b.to_dict()}
        hint = "; check that answers and truths use the same labels and scale"
        return verdict(
            "wait",
            f"the losses do not vary ({means}, the same on every "
            f"{'row' if constant else 'request'} of each arm): no information for a test"
            + (hint if max(arm_a.mean, arm_b.mean) > 0 else ""),
        )
    test = compare(arm_a, arm_b, t.alpha, t.margin)
    ev["loss_test"] = test
    if test["relative_difference"] is not None:
        means += f" ({test['relative_difference']:+.1%})"
    level = f"{1 - t.alpha:.0%}"
    rows_seen = f"{n2} vs {n1} labelled rows"
    if test["decision"] == "rollback":
        return verdict(
            "rollback",
            f"challenger is significantly worse: {means}; difference {test['difference']:+.4g}, "
            f"{level} lower bound {test['lower']:+.4g} > 0 (p={test['p_worse']:.2g}, {rows_seen})",
        )
    if test["decision"] == "promote":
        return verdict(
            "promote",
            f"challenger is no worse than the {t.margin:.0%} margin: {means}; {level} upper "
            f"bound on the difference {test['upper']:+.4g} < margin {_num(test['margin'])} "
            f"({rows_seen})",
        )
    return verdict(
        "wait",
        f"not enough evidence either way: {means}; difference {test['difference']:+.4g} within "
        f"{level} bounds [{test['lower']:+.4g}, {test['upper']:+.4g}], promote needs the upper "
        f"below {_num(test['margin'])}, rollback the lower above 0 ({rows_seen}; more feedback "
        "narrows the bounds)",
    )
