"""Score a model on held-out data with the project's metrics, and log them for KFP and MLflow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from onepipe.steps.context import context

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


def predictions(
    model: Any, frame: pd.DataFrame, *, label: str | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """(truth, predicted labels or values, class probabilities or None) on ``frame``.

    The model sees the columns it was trained on (its ``feature_names_in_`` when it
    has them, else every column but the label).
    """
    import numpy as np  # lazy: numpy stays off `import onepipe.steps`

    label = label or context().label
    if label is None or label not in frame:
        raise ValueError(f"evaluate: label column {label!r} not in the table (pass label=...)")
    columns = getattr(model, "feature_names_in_", None)
    x = frame[list(columns)] if columns is not None else frame.drop(columns=[label])
    y_pred = np.asarray(model.predict(x))
    y_score = np.asarray(model.predict_proba(x)) if hasattr(model, "predict_proba") else None
    return frame[label].to_numpy(), y_pred, y_score


def evaluate(
    model: Any,
    frame: pd.DataFrame,
    *,
    label: str | None = None,
    task: str | None = None,
    metrics: list[str] | None = None,
) -> dict[str, float]:
    """The task's metrics of ``model`` on ``frame``: the project's declared ones
    (``model.metrics``) that onepipe knows, plus the task's standard ones."""
    # lazy: onepipe.quality imports numpy (and scikit-learn where a metric needs it); it stays
    # off `import onepipe.steps`
    from onepipe.quality.metrics import offline_metrics, standard_names
    from onepipe.quality.tasks import task_of_estimator, task_of_values

    ctx = context()
    y, y_pred, proba = predictions(model, frame, label=label)
    task = task or ctx.task or task_of_estimator(model) or task_of_values(y.tolist())
    if task is None:
        raise ValueError("evaluate: cannot tell the task (declare model.task in onepipe.yaml)")
    score = None
    classes = getattr(model, "classes_", None)
    if proba is not None and task in ("binary", "multiclass"):
        score = proba[:, 1] if task == "binary" and proba.shape[1] == 2 else proba
    wanted = metrics or None
    if wanted is None and ctx.metrics:
        wanted = list(dict.fromkeys([*(n for n, _ in ctx.metrics), *standard_names(task)]))
    return offline_metrics(
        task,
        y,
        y_pred,
        score,
        names=wanted,
        classes=list(classes) if classes is not None and score is not None else None,
    )


def score(
    y_true: Any,
    y_pred: Any,
    y_score: Any = None,
    *,
    task: str | None = None,
    classes: Any = None,
    metrics: list[str] | None = None,
) -> dict[str, float]:
    """The project's metrics (``metrics``, else the context's, else the task's defaults)
    on given predictions: for a learning curve, or any scoring of your own.

    ``y_score``: class probabilities (columns in ``classes`` order) for the metrics that
    need them (roc_auc, log_loss); without it those are left out.
    """
    # lazy: as in evaluate()
    from onepipe.quality.metrics import DEFAULTS, offline_metrics
    from onepipe.quality.tasks import task_of_values

    ctx = context()
    task = task or ctx.task or task_of_values(list(y_true))
    if task is None:
        raise ValueError("score: cannot tell the task (declare model.task in onepipe.yaml)")
    names = metrics or [n for n, _ in ctx.metrics] or list(DEFAULTS[task])
    return offline_metrics(
        task,
        y_true,
        y_pred,
        y_score,
        names=names,
        classes=list(classes) if classes is not None and y_score is not None else None,
    )


def log_metrics(artifact: Any, metrics: dict[str, float]) -> None:
    """Log scalar metrics to a KFP ``Output[Metrics]`` (the run's metrics in MLflow too)."""
    for name, value in metrics.items():
        artifact.log_metric(name, float(value))
