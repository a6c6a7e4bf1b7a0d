"""The classifier: preprocessing and gradient boosting as one sklearn Pipeline.

Gradient boosting (not the histogram variant) because it is single-threaded and
bit-reproducible for a seed, honours ``subsample`` and hands over every boosting
stage as it is fitted (``fit``'s ``monitor``), which is what a sweep reports as
intermediate metrics while the fit runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import expit, logit
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from components.lib import features, schema

# Share of the training set held out to score every boosting stage. The model is
# fitted on the rest so the curve describes the very model that is shipped.
VALIDATION_FRACTION = 0.2


@dataclass(frozen=True)
class TrainParams:
    n_estimators: int = 120
    max_depth: int = 3
    learning_rate: float = 0.1
    subsample: float = 1.0
    seed: int = 42

    def __post_init__(self) -> None:
        problems = []
        if int(self.n_estimators) < 1:
            problems.append(f"n_estimators must be >= 1, got {self.n_estimators}")
        if int(self.max_depth) < 1:
            problems.append(f"max_depth must be >= 1, got {self.max_depth}")
        if not float(self.learning_rate) > 0:
            problems.append(f"learning_rate must be > 0, got {self.learning_rate}")
        if not 0 < float(self.subsample) <= 1:
            problems.append(f"subsample must be in (0, 1], got {self.subsample}")
        if problems:
            raise ValueError("; ".join(problems))


def build_pipeline(params: TrainParams) -> Pipeline:
    classifier = GradientBoostingClassifier(
        n_estimators=int(params.n_estimators),
        max_depth=int(params.max_depth),
        learning_rate=float(params.learning_rate),
        subsample=float(params.subsample),
        random_state=int(params.seed),
    )
    return Pipeline([("preprocess", features.build_preprocessor()), ("classifier", classifier)])


@dataclass
class TrainResult:
    pipeline: Pipeline
    history: list[dict]  # one entry per boosting stage
    metrics: dict[str, float]  # final train and validation scores


def _scores(prefix: str, y: np.ndarray, proba: np.ndarray) -> dict[str, float]:
    return {
        f"{prefix}_log_loss": float(log_loss(y, proba, labels=[0, 1])),
        f"{prefix}_roc_auc": float(roc_auc_score(y, proba)),
    }


class _StageScorer:
    """``GradientBoostingClassifier.fit``'s ``monitor``: scores each stage as soon as it is fitted.

    A trial streams these rows while the fit runs (a sweep's early stopping needs
    them then, not after the last stage). The numbers are those of
    ``staged_predict_proba``; the raw scores are accumulated here from public
    attributes so each stage costs one tree evaluation per set, as before.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        sets: list[tuple[str, pd.DataFrame, np.ndarray]],
        on_stage: Callable[[dict], None] | None,
    ) -> None:
        self.pipeline = pipeline
        self.sets = sets
        self.on_stage = on_stage
        self.history: list[dict] = []
        self._matrices: list[np.ndarray] = []
        self._raw: list[np.ndarray] = []

    def __call__(self, stage: int, classifier: GradientBoostingClassifier, _locals) -> bool:
        if stage == 0:
            # The Pipeline fits (and keeps) the preprocessor before the classifier, so it
            # can transform now. float32 is what the trees see in staged_predict_proba too.
            prep = self.pipeline.named_steps["preprocess"]
            self._matrices = [
                np.asarray(prep.transform(x), dtype=np.float32) for _, x, _ in self.sets
            ]
            self._raw = [_initial_raw(classifier, m) for m in self._matrices]
        tree = classifier.estimators_[stage, 0]  # binary: one regression tree per stage
        row: dict = {"step": stage + 1}
        for (prefix, _, y), matrix, raw in zip(self.sets, self._matrices, self._raw, strict=True):
            raw += classifier.learning_rate * tree.predict(matrix)
            row.update(_scores(prefix, y, expit(raw)))
        self.history.append(row)
        if self.on_stage is not None:
            self.on_stage(row)
        return False  # never stop the fit early: n_estimators is what was asked for


def _initial_raw(classifier: GradientBoostingClassifier, matrix: np.ndarray) -> np.ndarray:
    """The log-odds the boosting starts from, formed as sklearn forms them for binary log-loss.

    (The init estimator's positive-class probability, clipped, through the logit link;
    test_live_history_equals_staged_predict_proba guards this against sklearn changes.)
    """
    proba = classifier.init_.predict_proba(matrix)[:, 1]
    eps = np.finfo(np.float64).eps
    return logit(np.clip(proba, eps, 1 - eps).astype(np.float64))


def train(
    frame: pd.DataFrame,
    params: TrainParams,
    on_stage: Callable[[dict], None] | None = None,
) -> TrainResult:
    """Fit on the raw training frame; score each stage on a held-out slice of it.

    ``on_stage`` gets each stage's history row while the fit is still running.
    """
    fit_part, val_part = train_test_split(
        frame,
        test_size=VALIDATION_FRACTION,
        random_state=int(params.seed),
        stratify=frame[schema.LABEL],
    )
    x_fit, y_fit = features.features_and_label(fit_part)
    x_val, y_val = features.features_and_label(val_part)
    pipeline = build_pipeline(params)
    scorer = _StageScorer(
        pipeline, [("train", x_fit, y_fit), ("validation", x_val, y_val)], on_stage
    )
    pipeline.fit(x_fit, y_fit, classifier__monitor=scorer)

    history = scorer.history
    metrics = dict(history[-1])
    metrics.pop("step")
    metrics["train_accuracy"] = float(accuracy_score(y_fit, pipeline.predict(x_fit)))
    metrics["train_rows"] = float(len(fit_part))
    metrics["validation_rows"] = float(len(val_part))
    return TrainResult(pipeline, history, metrics)
