"""The three tasks onepipe knows, and how a task is inferred where nobody declared it.

Order of trust everywhere: ``model.task`` in onepipe.yaml, then the task the step
helpers recorded with the model (``onepipe.task`` on the registered version), then,
last, a guess from the values themselves (``task_of_values``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

import numpy as np

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[str, ...] = ("binary", "multiclass", "regression")

# A numeric target with at most this many distinct integer values reads as class labels.
MAX_CLASSES_GUESSED = 20


def task_of_estimator(estimator: Any) -> str | None:
    """``binary``/``multiclass`` for a fitted classifier (by its ``classes_``), ``regression``
    for a regressor; None when the object does not say (not scikit-learn-like)."""
    # lazy: scikit-learn takes about a second to import; the monitor and the config checks,
    # which load this module for task_of_values and the task names, never need it
    from sklearn.base import is_classifier, is_regressor

    final = estimator
    steps = getattr(estimator, "steps", None)  # a Pipeline: its last step decides
    if steps:
        final = steps[-1][1]
    if is_classifier(estimator) or is_classifier(final):
        classes = getattr(estimator, "classes_", None)
        if classes is None:
            classes = getattr(final, "classes_", None)
        if classes is None:
            return None
        return "binary" if len(classes) <= 2 else "multiclass"
    if is_regressor(estimator) or is_regressor(final):
        return "regression"
    return None


def task_of_values(values: Iterable[Any]) -> str | None:
    """A guess from target values alone: strings or few distinct integers are classes,
    anything else numeric is a regression target. None for no values."""
    items = [v for v in values if v is not None]
    if not items:
        return None
    try:
        arr = np.asarray(items, dtype=float)
    except (TypeError, ValueError):
        return "binary" if len({str(v) for v in items}) <= 2 else "multiclass"
    if not np.all(np.isfinite(arr)) or not np.all(arr == np.round(arr)):
        return "regression"
    distinct = np.unique(arr)
    if distinct.size <= 2:
        return "binary"
    return "multiclass" if distinct.size <= MAX_CLASSES_GUESSED else "regression"


def is_classification(task: str | None) -> bool:
    return task in ("binary", "multiclass")
