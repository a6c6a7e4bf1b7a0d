"""The search space, checked against the pipeline it searches, before anything starts.

``check_space`` turns ``settings.sweep.parameters`` into typed ``SearchParam``s or
raises one ``ConfigError`` line naming the param and the problem. Both backends
call it first, so a sweep that cannot work never creates a study or an Experiment.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from onepipe.config import Settings
from onepipe.errors import ConfigError, closest

MEDIANSTOP_SETTINGS = ("min_trials_required", "start_step")


@dataclass(frozen=True)
class SearchParam:
    name: str
    type: str  # Katib's parameterType: double | int | categorical | discrete
    low: float | int | None = None
    high: float | int | None = None
    step: float | int | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    distribution: str | None = None  # as declared (for Katib)

    def cli_value(self, value: Any) -> str:
        """How a sampled value is written in ``-p name=value`` (what Katib substitutes)."""
        if isinstance(value, bool):
            return str(value).lower()
        if self.type == "int":
            return str(int(value))
        return str(value)


def _num(value: Any, where: str, what: str, integer: bool) -> float | int:
    if isinstance(value, bool):
        raise ConfigError(f"{where}: {what} must be a number, found {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: {what} must be a number, found {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{where}: {what} must be finite, found {value!r}")
    if integer:
        if number != int(number):
            raise ConfigError(
                f"{where}: {what} must be an integer for parameterType int, found {value!r}"
            )
        return int(number)
    return number


def _check_one(spec, current: Any, where: str, algorithm: str, local: bool) -> SearchParam:
    fs, kind = spec.feasibleSpace, spec.parameterType
    if kind in ("categorical", "discrete"):
        if fs.min is not None or fs.max is not None or fs.step is not None:
            raise ConfigError(
                f"{where}: parameterType {kind} takes feasibleSpace.list, not min/max/step"
            )
        if not fs.values:
            raise ConfigError(
                f"{where}: parameterType {kind} has no values (expected a non-empty feasibleSpace.list)"
            )
        if len(set(map(str, fs.values))) != len(fs.values):
            raise ConfigError(f"{where}: feasibleSpace.list has duplicate values {list(fs.values)}")
        choices = tuple(fs.values)
        if kind == "discrete":
            choices = tuple(
                _num(v, where, "every discrete value", isinstance(current, int)) for v in choices
            )
        _check_fits(choices, current, where)
        return SearchParam(spec.name, kind, choices=choices)

    if fs.values:
        raise ConfigError(f"{where}: parameterType {kind} takes feasibleSpace.min/max, not list")
    if fs.min is None or fs.max is None:
        missing = "min" if fs.min is None else "max"
        raise ConfigError(
            f"{where}: feasibleSpace.{missing} is missing (parameterType {kind} needs min and max)"
        )
    integer = kind == "int"
    low = _num(fs.min, where, "feasibleSpace.min", integer)
    high = _num(fs.max, where, "feasibleSpace.max", integer)
    if low > high:
        raise ConfigError(
            f"{where}: feasibleSpace.min {fs.min} is greater than max {fs.max} (expected min <= max)"
        )
    step = None if fs.step is None else _num(fs.step, where, "feasibleSpace.step", integer)
    if step is not None and step <= 0:
        raise ConfigError(f"{where}: feasibleSpace.step must be > 0, found {fs.step}")
    log = fs.distribution == "logUniform"
    if log and low <= 0:
        raise ConfigError(f"{where}: distribution logUniform needs min > 0, found {fs.min}")
    if log and step is not None:
        raise ConfigError(
            f"{where}: distribution logUniform cannot have a step (a log scale is not evenly stepped)"
        )
    if local and fs.distribution in ("normal", "logNormal"):
        raise ConfigError(
            f"{where}: distribution {fs.distribution} runs only on Katib "
            "(the local Optuna sweeper supports uniform and logUniform)"
        )
    if algorithm == "grid" and kind == "double" and step is None:
        raise ConfigError(
            f"{where}: algorithm grid needs feasibleSpace.step for a double (a grid must be finite)"
        )
    if isinstance(current, bool) or isinstance(current, str):
        raise ConfigError(
            f"{where}: the pipeline param is {type(current).__name__}, "
            f"so it can only be searched as categorical, not {kind}"
        )
    if isinstance(current, int) and kind == "double":
        raise ConfigError(
            f"{where}: the pipeline param is an integer (found {current!r}); "
            "search it as int or discrete, not double"
        )
    return SearchParam(spec.name, kind, low, high, step, log, distribution=fs.distribution)


def _check_fits(choices: tuple[Any, ...], current: Any, where: str) -> None:
    """A value the trial could not pass as ``-p name=value`` is refused now, not in trial 7."""
    for value in choices:
        if isinstance(current, bool):
            ok = isinstance(value, bool) or str(value).lower() in ("true", "false")
        elif isinstance(current, int):
            ok = (
                not isinstance(value, bool) and float(str(value)) == int(float(str(value)))
                if _is_number(value)
                else False
            )
        elif isinstance(current, float):
            ok = not isinstance(value, bool) and _is_number(value)
        else:
            ok = True
        if not ok:
            raise ConfigError(
                f"{where}: value {value!r} does not fit the pipeline param "
                f"(a {type(current).__name__}, currently {current!r})"
            )


def _is_number(value: Any) -> bool:
    try:
        float(str(value))
        return True
    except ValueError:
        return False


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
    params = settings.params
    seen: set[str] = set()
    out = []
    algorithm = cfg.algorithm.algorithmName
    for spec in cfg.parameters:
        where = f"{file}: sweep.parameters.{spec.name}"
        if spec.name in seen:
            raise ConfigError(f"{where}: declared twice (expected each param once)")
        seen.add(spec.name)
        if spec.name not in params:
            raise ConfigError(f"{where}: not a param of the pipeline{closest(spec.name, params)}")
        out.append(_check_one(spec, params[spec.name], where, algorithm, local))
    if cfg.earlyStopping is not None:
        for key, value in cfg.earlyStopping.algorithmSettings.items():
            if key not in MEDIANSTOP_SETTINGS:
                raise ConfigError(
                    f"{file}: sweep.earlyStopping.algorithmSettings.{key}: unknown medianstop "
                    f"setting (expected one of: {', '.join(MEDIANSTOP_SETTINGS)})"
                )
            if value < 1:
                raise ConfigError(
                    f"{file}: sweep.earlyStopping.algorithmSettings.{key}: must be >= 1, found {value}"
                )
    if cfg.parallelTrialCount > cfg.maxTrialCount:
        raise ConfigError(
            f"{file}: sweep.parallelTrialCount {cfg.parallelTrialCount} is greater than "
            f"maxTrialCount {cfg.maxTrialCount} (expected parallel <= max)"
        )
    return out


def medianstop_settings(settings: Settings) -> dict[str, int] | None:
    """Katib's defaults filled in, or None when early stopping is off."""
    es = settings.sweep.earlyStopping
    if es is None:
        return None
    return {"min_trials_required": 3, "start_step": 4, **es.algorithmSettings}
