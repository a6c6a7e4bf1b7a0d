"""Per-feature drift of a live window against the training profile.

Numeric features: PSI over the training deciles and a two-sample
Kolmogorov-Smirnov statistic over the training percentiles. Both come from one
pass per feature: ``np.searchsorted`` of the live values into the profile's
percentile cut points and ``np.bincount`` (vectorised, O(n log 99)); decile counts
are summed from the percentile counts. KS is computed on the binned CDFs: D is
the largest CDF gap at the 99 cut points (a lower bound of the exact D, within a
percentile step), and the p-value uses the asymptotic Kolmogorov distribution with
Stephens' small-sample correction. Categorical features: PSI over the training
categories (+ one bin for unseen values) and a chi-square goodness-of-fit test
against the training frequencies.

Verdict per feature: ``alert`` when PSI >= psi_alert, or when the test rejects
(p < ks_pvalue / chi2_pvalue) and PSI >= psi_warn; ``warn`` when PSI >= psi_warn
or the test rejects; else ``ok``. Large windows make every test reject on tiny
shifts, so a test alone only warns; PSI carries the size of the shift.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import kolmogorov
from scipy.stats import chisquare

EPS = 1e-4  # floor for empty bins in PSI


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    kind: str  # numeric | categorical
    rows: int
    psi: float
    statistic: float  # KS D or chi-square
    pvalue: float
    test: str  # ks | chi2
    status: str  # ok | warn | alert | n/a
    missing: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two count vectors over the same bins."""
    e = np.maximum(expected / max(expected.sum(), 1), EPS)
    a = np.maximum(actual / max(actual.sum(), 1), EPS)
    return float(np.sum((a - e) * np.log(a / e)))


def ks_pvalue(d: float, n: int, m: int) -> float:
    if n == 0 or m == 0:
        return 1.0
    en = np.sqrt(n * m / (n + m))
    return float(kolmogorov((en + 0.12 + 0.11 / en) * d))


def numeric_drift(ref: dict[str, Any], values: np.ndarray) -> tuple[float, float, float, int, int]:
    """(psi, ks D, ks p, live rows, missing) for one numeric feature."""
    values = np.asarray(values, dtype=float)
    finite = np.isfinite(values)
    missing = int(values.size - finite.sum())
    if missing:
        values = values[finite]
    edges = np.asarray(ref["edges"], dtype=float)
    ref_counts = np.asarray(ref["counts"], dtype=float)
    live = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    live = live.astype(float)
    # decile bins: fine bin i (left edge edges[i-1]) belongs to coarse bin #coarse<=edges[i-1]
    coarse = np.asarray(ref["coarse"], dtype=float)
    to_coarse = np.concatenate([[0], np.searchsorted(coarse, edges, side="right")])
    k = coarse.size + 1
    value = psi(
        np.bincount(to_coarse, weights=ref_counts, minlength=k),
        np.bincount(to_coarse, weights=live, minlength=k),
    )
    n, m = int(ref_counts.sum()), int(values.size)
    if n == 0 or m == 0:
        return value, 0.0, 1.0, m, missing
    d = float(
        np.max(np.abs(np.cumsum(ref_counts)[:-1] / n - np.cumsum(live)[:-1] / m), initial=0.0)
    )
    return value, d, ks_pvalue(d, n, m), m, missing


def categorical_drift(ref: dict[str, Any], values: Any) -> tuple[float, float, float, int, int]:
    """(psi, chi-square, p, live rows, missing) for one categorical feature."""
    categories = list(ref["categories"])
    series = pd.Series(values, dtype="string") if not isinstance(values, pd.Series) else values
    missing = int(series.isna().sum())
    codes = pd.Categorical(series.dropna().astype(str), categories=categories).codes
    live = np.bincount(codes.astype(np.int64) + 1, minlength=len(categories) + 1).astype(float)
    live = np.concatenate([live[1:], live[:1]])  # unseen values last
    expected = np.concatenate([np.asarray(ref["counts"], dtype=float), [0.0]])
    value = psi(expected, live)
    m = int(live.sum())
    if m == 0:
        return value, 0.0, 1.0, 0, missing
    frac = np.maximum(expected / expected.sum(), EPS)
    frac /= frac.sum()
    stat, p = chisquare(live, frac * m)
    return value, float(stat), float(p), m, missing


def _status(value: float, pvalue: float, p_threshold: float, thresholds: Any) -> str:
    rejects = pvalue < p_threshold
    if value >= thresholds.psi_alert or (rejects and value >= thresholds.psi_warn):
        return "alert"
    if value >= thresholds.psi_warn or rejects:
        return "warn"
    return "ok"


def compare(profile: dict[str, Any], columns: Any, thresholds: Any) -> list[FeatureDrift]:
    """Drift of every profiled feature present in ``columns`` (a DataFrame or dict of arrays)."""
    out: list[FeatureDrift] = []
    for feature, ref in profile.get("numeric", {}).items():
        if feature not in columns:
            continue
        value, d, p, m, missing = numeric_drift(ref, _as_float(columns[feature]))
        status = _status(value, p, thresholds.ks_pvalue, thresholds)
        if m < thresholds.min_rows:
            status = "n/a"
        out.append(FeatureDrift(feature, "numeric", m, value, d, p, "ks", status, missing))
    for feature, ref in profile.get("categorical", {}).items():
        if feature not in columns:
            continue
        value, chi2, p, m, missing = categorical_drift(ref, columns[feature])
        status = _status(value, p, thresholds.chi2_pvalue, thresholds)
        if m < thresholds.min_rows:
            status = "n/a"
        out.append(FeatureDrift(feature, "categorical", m, value, chi2, p, "chi2", status, missing))
    return out


def _as_float(values: Any) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype.kind in "fiub":
        return arr.astype(float, copy=False)
    return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)


def worst(results: list[FeatureDrift]) -> str:
    order = {"n/a": 0, "ok": 1, "warn": 2, "alert": 3}
    return max((r.status for r in results), key=order.__getitem__, default="n/a")
