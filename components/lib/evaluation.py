"""Held-out metrics in the shapes MLflow and the Kubeflow UI display."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    f1_score,
    log_loss,
    precision_score,
    recall_score,
    roc_auc_score,
    roc_curve,
)

from components.lib import features

THRESHOLD = 0.5  # decision threshold behind the label metrics and the confusion matrix
MAX_ROC_POINTS = 50  # the KFP UI draws the curve from metadata; keep it small


@dataclass
class Evaluation:
    metrics: dict[str, float]
    confusion_matrix: list[list[int]]  # rows = true class, columns = predicted, classes 0, 1
    roc: tuple[list[float], list[float], list[float]]  # fpr, tpr, thresholds


def downsample_roc(
    fpr: np.ndarray, tpr: np.ndarray, thresholds: np.ndarray, max_points: int = MAX_ROC_POINTS
) -> tuple[list[float], list[float], list[float]]:
    """At most ``max_points`` evenly spaced points, always keeping both ends; plain floats.

    sklearn's first threshold is +inf, which JSON (and so KFP metadata) cannot hold:
    clip to 1.0, where no probability lies above it either.
    """
    thresholds = np.minimum(np.asarray(thresholds, dtype=float), 1.0)
    n = len(fpr)
    index = np.unique(np.linspace(0, n - 1, min(n, max_points)).round().astype(int))
    return (
        [float(v) for v in np.asarray(fpr)[index]],
        [float(v) for v in np.asarray(tpr)[index]],
        [float(v) for v in thresholds[index]],
    )


def evaluate(model, frame: pd.DataFrame) -> Evaluation:
    x, y = features.features_and_label(frame)
    proba = model.predict_proba(x)[:, 1]
    predicted = (proba >= THRESHOLD).astype(np.int64)
    metrics = {
        "accuracy": float(accuracy_score(y, predicted)),
        "precision": float(precision_score(y, predicted, zero_division=0)),
        "recall": float(recall_score(y, predicted, zero_division=0)),
        "f1": float(f1_score(y, predicted, zero_division=0)),
        "roc_auc": float(roc_auc_score(y, proba)),
        "log_loss": float(log_loss(y, proba, labels=[0, 1])),
    }
    matrix = confusion_matrix(y, predicted, labels=[0, 1])
    roc = downsample_roc(*roc_curve(y, proba))
    return Evaluation(metrics, [[int(v) for v in row] for row in matrix], roc)
