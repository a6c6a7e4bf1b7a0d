"""Canary analysis: challenger vs champion on the same window -> promote, rollback or wait.

Order of the checks (the first that decides wins):
1. each arm needs ``min_requests`` requests, else **wait**;
2. guards: challenger error rate above the champion's by more than
   ``max_error_rate_increase``, or challenger p99 latency above ``max_p99_ratio``
   times the champion's -> **rollback**;
3. quality needs ``min_samples`` labelled rows (feedback) per arm, else **wait**;
4. accuracy difference (challenger - champion), two-proportion z-test (pooled
   for the p-value, unpooled for the confidence interval at level 1 - alpha):
   the interval entirely below 0 -> **rollback** (significantly worse); its lower
   bound above ``-margin`` -> **promote** (not worse than the margin); else **wait**.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from onepipe.monitor.windows import VersionStats, flatten_pairs, version_stats

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


def two_proportion(k1: int, n1: int, k2: int, n2: int, alpha: float) -> dict[str, float]:
    """Difference p2 - p1 with its (1 - alpha) interval and the two-sided pooled z-test."""
    from scipy.stats import norm

    p1, p2 = k1 / n1, k2 / n2
    diff = p2 - p1
    pooled = (k1 + k2) / (n1 + n2)
    se0 = math.sqrt(max(pooled * (1 - pooled) * (1 / n1 + 1 / n2), 1e-12))
    z = diff / se0
    se = math.sqrt(max(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2, 1e-12))
    q = float(norm.ppf(1 - alpha / 2))
    return {
        "champion_accuracy": p1,
        "challenger_accuracy": p2,
        "difference": diff,
        "ci_low": diff - q * se,
        "ci_high": diff + q * se,
        "z": z,
        "p_value": float(2 * norm.sf(abs(z))),
    }


def _correct(rows: list[dict[str, Any]]) -> tuple[int, int]:
    preds, truths = flatten_pairs(rows)
    k = sum(1 for p, t in zip(preds, truths, strict=True) if str(p) == str(t) or _num_eq(p, t))
    return k, len(preds)


def _num_eq(a: Any, b: Any) -> bool:
    try:
        return float(a) == float(b)
    except (TypeError, ValueError):
        return False


def analyze(
    rows: list[dict[str, Any]], champion: str | None, challenger: str | None, thresholds: Any
) -> Verdict:
    """``rows``: the store's window rows (both arms, same time window)."""
    if not champion or not challenger:
        return Verdict(
            "wait", "no challenger is deployed (nothing to compare)", champion, challenger
        )
    champion, challenger = str(champion), str(challenger)
    stats = version_stats(rows)
    a = stats.get(champion) or VersionStats("", champion, "", 0, 0, 0, None, None)
    b = stats.get(challenger) or VersionStats("", challenger, "", 0, 0, 0, None, None)
    ev: dict[str, Any] = {
        "champion": a.to_dict(),
        "challenger": b.to_dict(),
        "thresholds": thresholds.model_dump() if hasattr(thresholds, "model_dump") else {},
    }

    def verdict(kind: str, reason: str) -> Verdict:
        return Verdict(kind, reason, champion, challenger, ev)

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
    k1, n1 = _correct([r for r in rows if str(r["model_version"]) == champion])
    k2, n2 = _correct([r for r in rows if str(r["model_version"]) == challenger])
    ev["labelled"] = {"champion": n1, "challenger": n2}
    if min(n1, n2) < t.min_samples:
        return verdict(
            "wait",
            f"labelled rows: champion {n1}, challenger {n2} (needs {t.min_samples} each; "
            "send ground truth to POST /feedback)",
        )
    test = two_proportion(k1, n1, k2, n2, t.alpha)
    ev["accuracy_test"] = test
    summary = (
        f"accuracy {test['challenger_accuracy']:.3f} vs {test['champion_accuracy']:.3f} "
        f"(diff {test['difference']:+.3f}, {1 - t.alpha:.0%} CI [{test['ci_low']:+.3f}, "
        f"{test['ci_high']:+.3f}], p={test['p_value']:.3g}, n={n2}/{n1})"
    )
    if test["ci_high"] < 0:
        return verdict("rollback", f"challenger is significantly worse: {summary}")
    if test["ci_low"] > -t.margin:
        return verdict("promote", f"challenger is no worse than {t.margin:.0%}: {summary}")
    return verdict("wait", f"not enough evidence either way: {summary}")
