"""The search space, checked against the pipeline it searches, before anything starts.

``check_space`` turns ``settings.sweep.parameters`` into typed ``SearchParam``s or
raises one ``ConfigError`` line naming the param and the problem. Both backends
call it first, so a sweep that cannot work never creates a study or an Experiment.
The checks of the space against the params are pure config
(``onepipe.config.space``), run again here: loading onepipe.yaml runs them too.
"""

from __future__ import annotations

from onepipe.config import Settings
from onepipe.config.base import ConfigProblem
from onepipe.config.space import MEDIANSTOP_SETTINGS, SearchParam, check_parameters
from onepipe.errors import ConfigError

__all__ = ["MEDIANSTOP_SETTINGS", "SearchParam", "check_space", "medianstop_settings"]


def check_space(settings: Settings, *, local: bool = False) -> list[SearchParam]:
    """The declared space as typed params, or one ``ConfigError`` naming what is wrong."""
    cfg = settings.sweep
    file = settings.config_file.name
    if not cfg.parameters:
        raise ConfigError(
            f"{file}: sweep.parameters: empty (expected at least one param to search, "
            "e.g. {name: max_depth, parameterType: int, feasibleSpace: {min: 2, max: 6}})"
        )
    objective = cfg.objective
    if objective.objectiveMetricName is None:
        raise ConfigError(
            f"{file}: sweep.objective.objectiveMetricName: not set and no metric to default to "
            "(expected model.task, model.metrics or the objective itself)"
        )
    if objective.type is None:
        raise ConfigError(
            f"{file}: sweep.objective.type: {objective.objectiveMetricName!r} is not a metric "
            "onepipe knows (expected type: maximize or minimize, or the metric in model.metrics)"
        )
    try:
        return check_parameters(cfg, settings.params, local=local)
    except ConfigProblem as problem:
        raise ConfigError(f"{file}: {problem}") from None


def medianstop_settings(settings: Settings) -> dict[str, int] | None:
    """Katib's defaults filled in, or None when early stopping is off."""
    es = settings.sweep.earlyStopping
    if es is None:
        return None
    return {"min_trials_required": 3, "start_step": 4, **es.algorithmSettings}
