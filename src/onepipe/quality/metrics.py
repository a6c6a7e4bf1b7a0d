"""The metrics onepipe knows: name, direction, the tasks they fit, and how to compute them.

A project declares its metrics in ``model.metrics`` (the first one is the primary:
the sweep's default objective, the first column of ``onepipe models``); where it
declares none, the task's defaults apply. A metric onepipe does not know may still
be declared with its direction (``{my_score: maximize}``): it is shown and swept
on, but only known metrics are computed by onepipe itself.

``needs`` tells what a metric is computed from: ``label`` metrics need only the
predicted label or value (what a served model answers), so they are also live
metrics, computed from the prediction log joined with feedback; ``score`` metrics
(ROC AUC, log loss) need probabilities and are offline only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from onepipe.quality.tasks import TASKS, is_classification, task_of_values

Direction = Literal["maximize", "minimize"]
DIRECTIONS: tuple[str, ...] = ("maximize", "minimize")


@dataclass(frozen=True)
class Metric:
    name: str
    direction: Direction
    tasks: tuple[str, ...]
    needs: Literal["label", "score"]
    # The per-row loss whose mean moves with this metric (quality.losses), if there is one:
    # what the canary compares when this is the project's primary metric.
    loss: str | None
    description: str
    compute: Callable[[np.ndarray, np.ndarray], float]


@dataclass(frozen=True)
class MetricSpec:
    """A project's metric: a known one, or a name with its declared direction."""

    name: str
    direction: Direction

    @property
    def known(self) -> Metric | None:
        return METRICS.get(self.name)

    def better(self, a: float, b: float) -> bool:
        """True when ``a`` is better than ``b`` in this metric's direction."""
        return a > b if self.direction == "maximize" else a < b

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "direction": self.direction}


# ---- the computations -------------------------------------------------------------------
# The few that need scikit-learn import it inside: it takes about a second to import, and
# the config checks, the monitor and the report load this module for its names and numpy metrics.


def _accuracy(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(_same(y, p)))


def _same(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(y, dtype=float) == np.asarray(p, dtype=float)
    except (TypeError, ValueError):
        return np.asarray(y, dtype=str) == np.asarray(p, dtype=str)


def _positive(y: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 arrays for a binary task whose labels are 0/1 (or booleans)."""
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    if not set(np.unique(np.concatenate([y, p]))) <= {0.0, 1.0}:
        raise ValueError("precision/recall/f1 need 0/1 labels")
    return y == 1, p == 1


def _precision(y: np.ndarray, p: np.ndarray) -> float:
    t, q = _positive(y, p)
    return float(np.sum(t & q) / max(int(np.sum(q)), 1))


def _recall(y: np.ndarray, p: np.ndarray) -> float:
    t, q = _positive(y, p)
    return float(np.sum(t & q) / max(int(np.sum(t)), 1))


def _f1(y: np.ndarray, p: np.ndarray) -> float:
    t, q = _positive(y, p)
    tp = float(np.sum(t & q))
    denominator = float(np.sum(t) + np.sum(q))
    return 2 * tp / denominator if denominator else 0.0


def _f1_macro(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import f1_score  # lazy: scikit-learn, see above

    return float(f1_score(_labels(y), _labels(p), average="macro", zero_division=0))


def _balanced_accuracy(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import balanced_accuracy_score  # lazy: scikit-learn, see above

    return float(balanced_accuracy_score(_labels(y), _labels(p)))


def _labels(values: np.ndarray) -> np.ndarray:
    try:
        return np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        return np.asarray(values, dtype=str)


def _rmse(y: np.ndarray, p: np.ndarray) -> float:
    e = np.asarray(p, dtype=float) - np.asarray(y, dtype=float)
    return float(np.sqrt(np.mean(e**2)))


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(np.asarray(p, dtype=float) - np.asarray(y, dtype=float))))


def _r2(y: np.ndarray, p: np.ndarray) -> float:
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0.0:
        return float("nan")
    return 1.0 - float(np.sum((y - p) ** 2)) / total


def _roc_auc(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score  # lazy: scikit-learn, see above

    score = np.asarray(score, dtype=float)
    if score.ndim == 2:
        if score.shape[1] == 2:
            return float(roc_auc_score(_labels(y), score[:, 1]))
        return float(roc_auc_score(_labels(y), score, multi_class="ovr"))
    return float(roc_auc_score(_labels(y), score))


def _log_loss(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import log_loss  # lazy: scikit-learn, see above

    score = np.asarray(score, dtype=float)
    if score.ndim == 1:
        score = np.column_stack([1 - score, score])
        return float(log_loss(_labels(y), score, labels=[0, 1]))
    return float(log_loss(_labels(y), score, labels=list(range(score.shape[1]))))


_BIN = ("binary",)
_CLS = ("binary", "multiclass")
_REG = ("regression",)

METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", "maximize", _CLS, "score", None, "area under the ROC curve", _roc_auc),
        Metric(
            "accuracy", "maximize", _CLS, "label", "zero_one", "share of correct labels", _accuracy
        ),  # fmt: skip
        Metric(
            "balanced_accuracy",
            "maximize",
            _CLS,
            "label",
            None,
            "mean recall over classes",
            _balanced_accuracy,
        ),  # fmt: skip
        Metric(
            "precision", "maximize", _BIN, "label", None, "of predicted 1s, share right", _precision
        ),  # fmt: skip
        Metric("recall", "maximize", _BIN, "label", None, "of true 1s, share found", _recall),
        Metric("f1", "maximize", _BIN, "label", None, "harmonic mean of precision, recall", _f1),
        Metric(
            "f1_macro", "maximize", _CLS, "label", None, "F1 averaged over classes", _f1_macro
        ),  # fmt: skip
        Metric(
            "log_loss",
            "minimize",
            _CLS,
            "score",
            "log_loss",
            "cross-entropy of the predicted probabilities",
            _log_loss,
        ),  # fmt: skip
        Metric(
            "rmse", "minimize", _REG, "label", "squared_error", "root mean squared error", _rmse
        ),  # fmt: skip
        Metric("mae", "minimize", _REG, "label", "absolute_error", "mean absolute error", _mae),
        Metric(
            "r2", "maximize", _REG, "label", "squared_error", "coefficient of determination", _r2
        ),  # fmt: skip
    )
}

# What a project gets when it declares a task and no metrics; the first is the primary.
DEFAULTS: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "accuracy", "f1", "log_loss"),
    "multiclass": ("accuracy", "f1_macro", "log_loss"),
    "regression": ("rmse", "mae", "r2"),
}

# Computed live from the prediction log and feedback (predicted labels or values only).
LIVE: dict[str, tuple[str, ...]] = {
    "binary": ("accuracy", "precision", "recall", "f1"),
    "multiclass": ("accuracy", "f1_macro"),
    "regression": ("rmse", "mae", "r2"),
}


def metric(name: str) -> Metric | None:
    return METRICS.get(name)


def default_metrics(task: str) -> list[MetricSpec]:
    return [MetricSpec(n, METRICS[n].direction) for n in DEFAULTS[task]]


def parse_declared(items: Iterable[Any]) -> list[MetricSpec]:
    """``model.metrics`` entries: a known name, or ``{name: maximize|minimize}``.

    Raises ValueError with the offending entry; the config loader turns it into a
    one-line error naming ``model.metrics``.
    """
    out: list[MetricSpec] = []
    for item in items:
        if isinstance(item, str):
            known = METRICS.get(item)
            if known is None:
                raise ValueError(
                    f"{item!r} is not a metric onepipe knows (known: {', '.join(METRICS)}); "
                    f"declare its direction: {{{item}: maximize}} or {{{item}: minimize}}"
                )
            out.append(MetricSpec(item, known.direction))
        elif isinstance(item, Mapping) and len(item) == 1:
            (name, direction), *_ = item.items()
            if direction not in DIRECTIONS:
                raise ValueError(f"{name}: expected maximize or minimize, found {direction!r}")
            known = METRICS.get(str(name))
            if known is not None and known.direction != direction:
                raise ValueError(f"{name}: is always {known.direction}d, found {direction!r}")
            out.append(MetricSpec(str(name), direction))
        else:
            raise ValueError(
                f"expected a metric name or {{name: maximize|minimize}}, found {item!r}"
            )
    names = [m.name for m in out]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ValueError(f"declared twice: {', '.join(duplicated)}")
    return out


def resolve_metrics(task: str | None, declared: Sequence[MetricSpec]) -> list[MetricSpec]:
    """The project's metrics: as declared, else the task's defaults, else none known yet."""
    if declared:
        return list(declared)
    return default_metrics(task) if task in TASKS else []


def offline_metrics(
    task: str,
    y_true: Any,
    y_pred: Any,
    y_score: Any = None,
    names: Iterable[str] | None = None,
    classes: Sequence[Any] | None = None,
) -> dict[str, float]:
    """Known metrics of ``task`` on held-out data (``names``: only these; default: the task's
    defaults plus every label metric of the task). Score metrics need ``y_score``: the
    positive class' probability (binary) or the probability matrix, whose columns are
    ``classes`` in order (default: the labels are already 0..k-1)."""
    wanted = list(names) if names is not None else standard_names(task)
    y = np.asarray(y_true)
    p = np.asarray(y_pred)
    y_index = y
    if classes is not None:
        position = {_key(c): i for i, c in enumerate(classes)}
        y_index = np.asarray([position[_key(v)] for v in y])
    out: dict[str, float] = {}
    for name in wanted:
        m = METRICS.get(name)
        if m is None or task not in m.tasks:
            continue
        if m.needs == "score":
            if y_score is None:
                continue
            out[name] = m.compute(y_index, np.asarray(y_score))
        else:
            try:
                out[name] = m.compute(y, p)
            except ValueError:
                continue  # e.g. precision on string labels: not defined without a positive class
    return out


def _key(value: Any) -> Any:
    """numpy scalars and Python numbers of equal value look up alike."""
    return value.item() if hasattr(value, "item") else value


def standard_names(task: str) -> list[str]:
    """The task's default metrics and its live ones: what an evaluation reports by default."""
    return list(dict.fromkeys([*DEFAULTS[task], *LIVE[task]]))


def live_metrics(task: str | None, preds: Sequence[Any], truths: Sequence[Any]) -> dict[str, float]:
    """Live quality of one model version from its labelled predictions, for ``task``.

    ``labelled`` counts the rows. With no task known, the values decide
    (``task_of_values`` on the truths); nothing is ever scored as a classifier
    because the task was not declared.
    """
    if not preds:
        return {}
    task = task or task_of_values([*truths, *preds])
    out: dict[str, float] = {"labelled": float(len(preds))}
    if task is None:
        return out
    if not is_classification(task):
        try:
            np.asarray(preds, dtype=float), np.asarray(truths, dtype=float)
        except (TypeError, ValueError):
            return out  # non-numeric answers for a regression model: nothing to score
    y, p = np.asarray(truths, dtype=object), np.asarray(preds, dtype=object)
    for name in LIVE[task]:
        try:
            value = METRICS[name].compute(y, p)
        except (TypeError, ValueError):
            continue
        if value == value:  # NaN (r2 on a constant truth) is no information: leave it out
            out[name] = value
    return out


def live_metric_names(task: str) -> tuple[str, ...]:
    return LIVE[task]


def primary_live_metric(task: str | None, declared: Sequence[MetricSpec]) -> MetricSpec | None:
    """The one live metric to watch for ``task``: the first of the project's metrics
    (``declared``, primary first) that is computed live, else the task's first live
    metric (accuracy for classifiers, rmse for regression); None for an unknown task."""
    if task not in LIVE:
        return None
    live = LIVE[task]
    for spec in declared:
        if spec.name in live:
            return spec
    return MetricSpec(live[0], METRICS[live[0]].direction)
