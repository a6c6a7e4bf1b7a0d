"""The Kubeflow UI's confusion matrix and ROC curve for the credit-risk classifier.

The metrics themselves (accuracy, ROC AUC, ...) come from ``onepipe.steps.evaluate``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix, roc_curve

from components.lib import features

THRESHOLD = 0.5  # decision threshold behind the label metrics and the confusion matrix
MAX_ROC_POINTS = 50  # the KFP UI draws the curve from metadata; keep it small


@dataclass
class Curves:
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


def curves(model, frame: pd.DataFrame) -> Curves:
    x, y = features.features_and_label(frame)
    proba = model.predict_proba(x)[:, 1]
    predicted = (proba >= THRESHOLD).astype(np.int64)
    matrix = confusion_matrix(y, predicted, labels=[0, 1])
    roc = downsample_roc(*roc_curve(y, proba))
    return Curves([[int(v) for v in row] for row in matrix], roc)
