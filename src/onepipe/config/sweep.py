"""The ``sweep:`` section of onepipe.yaml: one search space, in Katib's vocabulary.

Keys are Katib's v1beta1 ``Experiment`` spec names (``parameters``, ``parameterType``,
``feasibleSpace``, ``objective.objectiveMetricName``, ``maxTrialCount`` ...) so the
Katib backend maps them one to one and a Katib user reads them without a glossary.
Two conveniences differ from Katib's wire form: ``feasibleSpace`` bounds may be
numbers (Katib wants strings; the renderer converts), and ``algorithmSettings`` is
a mapping ``{name: value}`` rather than Katib's list of ``{name, value}`` pairs.

Only the shape is checked here; whether the space fits the pipeline (min <= max,
the param exists, a grid is finite ...) is ``onepipe.config.space``, which needs
the resolved params: the loader runs it on every load, the sweep backends again.
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field

from onepipe.config.base import Section

Number = int | float | str
ALGORITHMS = ("random", "grid", "tpe", "multivariate-tpe", "cmaes", "bayesianoptimization")
PARAMETER_TYPES = ("double", "int", "categorical", "discrete")


class FeasibleSpace(Section):
    """Katib's ``FeasibleSpace``: ``min``/``max``/``step`` for numbers, ``list`` otherwise."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    min: Number | None = None
    max: Number | None = None
    step: Number | None = None
    values: list[bool | int | float | str] | None = Field(default=None, alias="list")
    # Katib >= 0.17 names: logUniform is the log scale; normal/logNormal are cluster-only.
    distribution: Literal["uniform", "logUniform", "normal", "logNormal"] | None = None


class ParameterSpec(Section):
    name: str
    parameterType: Literal["double", "int", "categorical", "discrete"]
    feasibleSpace: FeasibleSpace = Field(default_factory=FeasibleSpace)


class Objective(Section):
    # Both default to the project's primary metric (model.metrics, else the task's
    # defaults) and its direction; Settings.build fills them in.
    type: Literal["maximize", "minimize"] | None = None
    objectiveMetricName: str | None = None
    additionalMetricNames: list[str] = Field(default_factory=list)
    goal: float | None = None  # stop once a trial reaches it (Katib semantics)


class Algorithm(Section):
    algorithmName: Literal[
        "random", "grid", "tpe", "multivariate-tpe", "cmaes", "bayesianoptimization"
    ] = "tpe"
    algorithmSettings: dict[str, bool | int | float | str] = Field(default_factory=dict)


class EarlyStopping(Section):
    algorithmName: Literal["medianstop"] = "medianstop"
    # Katib's medianstop settings: min_trials_required (default 3), start_step (default 4).
    algorithmSettings: dict[str, int] = Field(default_factory=dict)


class SweepConfig(Section):
    """One search space for both backends (local Optuna, Katib on a cluster)."""

    parameters: list[ParameterSpec] = Field(default_factory=list)
    objective: Objective = Field(default_factory=Objective)
    algorithm: Algorithm = Field(default_factory=Algorithm)
    earlyStopping: EarlyStopping | None = None
    maxTrialCount: int = Field(12, ge=1)
    parallelTrialCount: int = Field(2, ge=1)
    maxFailedTrialCount: int = Field(3, ge=0)
