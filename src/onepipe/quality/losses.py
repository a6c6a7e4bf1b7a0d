"""Per-row losses: what the canary verdict compares between champion and challenger.

Every loss is "lower is better" and defined per labelled row, so two arms that
saw different requests can be compared on the mean loss, with a standard error.

``zero_one``: 1 when the predicted label differs from the truth (classification).
``log_loss``: minus the log of the probability given to the true class; needs
answers that are probabilities (a float per row for binary 0/1 truths, or a
list of class probabilities indexed by an integer truth).
``squared_error`` / ``absolute_error``: regression.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from onepipe.quality.metrics import METRICS
from onepipe.quality.tasks import is_classification

LOSSES: tuple[str, ...] = ("zero_one", "log_loss", "squared_error", "absolute_error")
EPS = 1e-15


def loss_for(task: str | None, primary_metric: str | None, configured: str = "auto") -> str:
    """The loss to compare: ``configured`` unless ``auto``; then the primary metric's own
    loss where it has one (rmse -> squared_error, accuracy -> zero_one, ...), else the
    task's: zero_one for classification, squared_error for regression."""
    if configured != "auto":
        return configured
    known = METRICS.get(primary_metric or "")
    if known is not None and known.loss and (task is None or task in known.tasks):
        if known.loss != "log_loss":  # answers are labels unless the project says otherwise
            return known.loss
    return "zero_one" if is_classification(task) else "squared_error"


def row_losses(kind: str, preds: Sequence[Any], truths: Sequence[Any]) -> np.ndarray:
    """One loss per row; ValueError naming the problem when the answers do not fit ``kind``."""
    if len(preds) != len(truths):
        raise ValueError(f"{len(preds)} answers for {len(truths)} truths")
    if kind == "zero_one":
        try:
            p, t = np.asarray(preds, dtype=float), np.asarray(truths, dtype=float)
        except (TypeError, ValueError):
            p, t = np.asarray(preds, dtype=str), np.asarray(truths, dtype=str)
        return (p != t).astype(float)
    if kind in ("squared_error", "absolute_error"):
        try:
            p, t = np.asarray(preds, dtype=float), np.asarray(truths, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"{kind} needs numeric answers and truths") from None
        if p.ndim != 1:
            raise ValueError(f"{kind} needs one number per row, found shape {p.shape}")
        e = p - t
        return e**2 if kind == "squared_error" else np.abs(e)
    if kind == "log_loss":
        return _log_loss_rows(preds, truths)
    raise ValueError(f"unknown loss {kind!r} (expected one of: {', '.join(LOSSES)})")


def _log_loss_rows(preds: Sequence[Any], truths: Sequence[Any]) -> np.ndarray:
    try:
        p = np.asarray(preds, dtype=float)
        t = np.asarray(truths, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("log_loss needs probabilities as answers and integer truths") from None
    if np.all((p == 0) | (p == 1)):
        raise ValueError("log_loss needs probabilities, and the answers are all 0 or 1 (labels?)")
    if p.ndim == 1:
        if not set(np.unique(t)) <= {0.0, 1.0} or np.any((p < 0) | (p > 1)):
            raise ValueError("log_loss on one number per row needs 0/1 truths and probabilities")
        chosen = np.where(t == 1, p, 1 - p)
    else:
        index = t.astype(int)
        if np.any(index != t) or np.any(index < 0) or np.any(index >= p.shape[1]):
            raise ValueError("log_loss needs truths that index the probability columns")
        chosen = p[np.arange(len(index)), index]
    return -np.log(np.clip(chosen, EPS, 1.0))
