"""The ``promotion:`` section of onepipe.yaml: what a model must show before it moves in.

``onepipe promote --from A --to B`` checks the gates of B's resolved config (the top
level, or ``environments.B.promotion``) before anything moves (onepipe.team.gates):

- ``metrics``: each named metric of the candidate, scored on the ``holdout`` data
  commit, no worse than its threshold: at least it for a metric to maximize
  (roc_auc), at most it for one to minimize (rmse, log_loss);
- ``champion``: the candidate no worse than B's current champion on the same commit,
  on one metric, by more than ``margin`` (in the metric's units, or with
  ``relative: true`` a share of the champion's value);
- ``canary``: the candidate's last canary in A says promote.

No gate declared: a promotion moves as it always did.
"""

from __future__ import annotations

import math
import re

from pydantic import Field, field_validator, model_validator

from onepipe.config.base import ConfigProblem, Section

_NAME = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}"
HOLDOUT = re.compile(rf"^{_NAME}@{_NAME}$")
HOLDOUT_FORM = "REPO@COMMIT (or REPO@BRANCH), e.g. loans-holdout@3f2a9c1e"


def _known_metric(name: str) -> str:
    # lazy: keeps numpy off `onepipe --help`
    from onepipe.quality.metrics import METRICS

    if name not in METRICS:
        raise ValueError(
            f"{name!r} is not a metric onepipe computes (expected one of: {', '.join(METRICS)})"
        )
    return name


class ChampionGate(Section):
    """No worse than the target's champion on the holdout commit, by at most ``margin``."""

    metric: str | None = None  # default: the project's primary metric
    margin: float = Field(0.0, ge=0)  # how much worse is still fine (0: at least as good)
    relative: bool = False  # true: ``margin`` is a share of the champion's value (0.02 = 2%)

    @field_validator("metric")
    @classmethod
    def _known(cls, value: str | None) -> str | None:
        return None if value is None else _known_metric(value)

    @field_validator("margin")
    @classmethod
    def _finite(cls, value: float) -> float:
        if not math.isfinite(value):
            raise ValueError(f"expected a finite number, found {value}")
        return value


class PromotionGates(Section):
    # metric -> threshold in the metric's own direction: roc_auc: 0.8 is "at least 0.8",
    # rmse: 25 is "at most 25".
    metrics: dict[str, float] = Field(default_factory=dict)
    champion: ChampionGate | None = None
    canary: bool = False  # the candidate's last canary in the source environment said promote

    @field_validator("metrics")
    @classmethod
    def _known_finite(cls, value: dict[str, float]) -> dict[str, float]:
        for name, threshold in value.items():
            _known_metric(name)
            if not math.isfinite(threshold):
                raise ValueError(f"{name}: expected a finite threshold, found {threshold}")
        return value

    @property
    def declared(self) -> bool:
        return bool(self.metrics) or self.champion is not None or self.canary


class PromotionConfig(Section):
    """Gates a model passes before ``promote --from ... --to`` this environment moves it."""

    holdout: str | None = None  # the held-out data commit the metric and champion gates score on
    gates: PromotionGates = Field(default_factory=PromotionGates)

    @field_validator("holdout")
    @classmethod
    def _ref(cls, value: str | None) -> str | None:
        if value is not None and not HOLDOUT.fullmatch(value):
            raise ValueError(f"expected {HOLDOUT_FORM}, found {value!r}")
        return value

    @model_validator(mode="after")
    def _holdout_when_scoring(self) -> PromotionConfig:
        if (self.gates.metrics or self.gates.champion is not None) and not self.holdout:
            raise ValueError(
                "holdout: missing (the metrics and champion gates score the model on it; "
                f"expected {HOLDOUT_FORM})"
            )
        return self


def check_promotion(promotion: PromotionConfig, task: str | None) -> None:
    """Gate metrics that cannot be computed for the declared ``model.task`` (rmse on a
    classifier): refused at load, not at the first promotion."""
    if task is None:
        return
    # lazy: keeps numpy off `onepipe --help`
    from onepipe.quality.metrics import METRICS

    gates = promotion.gates
    named = [(f"promotion.gates.metrics.{m}", m) for m in gates.metrics]
    if gates.champion is not None and gates.champion.metric:
        named.append(("promotion.gates.champion.metric", gates.champion.metric))
    for where, name in named:
        if task not in METRICS[name].tasks:
            fits = ", ".join(m for m, spec in METRICS.items() if task in spec.tasks)
            raise ConfigProblem(
                f"{where}: {name} is not a {task} metric (model.task is {task}; "
                f"expected one of: {fits})"
            )
