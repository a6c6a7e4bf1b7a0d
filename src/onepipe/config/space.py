"""The sweep space checked against the pipeline params it searches: pure config, no sweep code.

``check_parameters`` turns ``sweep.parameters`` into typed ``SearchParam``s or raises
one ``ConfigProblem`` naming the param and the problem. The loader calls it when
onepipe.yaml is loaded, so ``config show`` and ``run`` refuse a space that cannot
work (min > max, a param the pipeline does not have ...); the sweep backends call it
again (through ``onepipe.sweep.space.check_space``) with what only a sweep needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from onepipe.config.base import ConfigProblem
from onepipe.config.sweep import SweepConfig
from onepipe.errors import closest

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
        raise ConfigProblem(f"{where}: {what} must be a number, found {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigProblem(f"{where}: {what} must be a number, found {value!r}") from None
    if not math.isfinite(number):
        raise ConfigProblem(f"{where}: {what} must be finite, found {value!r}")
    if integer:
        if number != int(number):
            raise ConfigProblem(
                f"{where}: {what} must be an integer for parameterType int, found {value!r}"
            )
        return int(number)
    return number


def _check_one(spec, current: Any, where: str, algorithm: str, local: bool) -> SearchParam:
    fs, kind = spec.feasibleSpace, spec.parameterType
    if kind in ("categorical", "discrete"):
        if fs.min is not None or fs.max is not None or fs.step is not None:
            raise ConfigProblem(
                f"{where}: parameterType {kind} takes feasibleSpace.list, not min/max/step"
            )
        if not fs.values:
            raise ConfigProblem(
                f"{where}: parameterType {kind} has no values (expected a non-empty feasibleSpace.list)"
            )
        if len(set(map(str, fs.values))) != len(fs.values):
            raise ConfigProblem(
                f"{where}: feasibleSpace.list has duplicate values {list(fs.values)}"
            )
        choices = tuple(fs.values)
        if kind == "discrete":
            choices = tuple(
                _num(v, where, "every discrete value", isinstance(current, int)) for v in choices
            )
        _check_fits(choices, current, where)
        return SearchParam(spec.name, kind, choices=choices)

    if fs.values:
        raise ConfigProblem(f"{where}: parameterType {kind} takes feasibleSpace.min/max, not list")
    if fs.min is None or fs.max is None:
        missing = "min" if fs.min is None else "max"
        raise ConfigProblem(
            f"{where}: feasibleSpace.{missing} is missing (parameterType {kind} needs min and max)"
        )
    integer = kind == "int"
    low = _num(fs.min, where, "feasibleSpace.min", integer)
    high = _num(fs.max, where, "feasibleSpace.max", integer)
    if low > high:
        raise ConfigProblem(
            f"{where}: feasibleSpace.min {fs.min} is greater than max {fs.max} (expected min <= max)"
        )
    step = None if fs.step is None else _num(fs.step, where, "feasibleSpace.step", integer)
    if step is not None and step <= 0:
        raise ConfigProblem(f"{where}: feasibleSpace.step must be > 0, found {fs.step}")
    log = fs.distribution == "logUniform"
    if log and low <= 0:
        raise ConfigProblem(f"{where}: distribution logUniform needs min > 0, found {fs.min}")
    if log and step is not None:
        raise ConfigProblem(
            f"{where}: distribution logUniform cannot have a step (a log scale is not evenly stepped)"
        )
    if local and fs.distribution in ("normal", "logNormal"):
        raise ConfigProblem(
            f"{where}: distribution {fs.distribution} runs only on Katib "
            "(the local Optuna sweeper supports uniform and logUniform)"
        )
    if algorithm == "grid" and kind == "double" and step is None:
        raise ConfigProblem(
            f"{where}: algorithm grid needs feasibleSpace.step for a double (a grid must be finite)"
        )
    if isinstance(current, bool) or isinstance(current, str):
        raise ConfigProblem(
            f"{where}: the pipeline param is {type(current).__name__}, "
            f"so it can only be searched as categorical, not {kind}"
        )
    if isinstance(current, int) and kind == "double":
        raise ConfigProblem(
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
            raise ConfigProblem(
                f"{where}: value {value!r} does not fit the pipeline param "
                f"(a {type(current).__name__}, currently {current!r})"
            )


def _is_number(value: Any) -> bool:
    try:
        float(str(value))
        return True
    except ValueError:
        return False


def check_parameters(
    cfg: SweepConfig, params: dict[str, Any], *, local: bool = False
) -> list[SearchParam]:
    """Every declared param checked against the pipeline's ``params``; the sweep's own limits."""
    seen: set[str] = set()
    out = []
    algorithm = cfg.algorithm.algorithmName
    for spec in cfg.parameters:
        where = f"sweep.parameters.{spec.name}"
        if spec.name in seen:
            raise ConfigProblem(f"{where}: declared twice (expected each param once)")
        seen.add(spec.name)
        if spec.name not in params:
            raise ConfigProblem(f"{where}: not a param of the pipeline{closest(spec.name, params)}")
        out.append(_check_one(spec, params[spec.name], where, algorithm, local))
    if cfg.earlyStopping is not None:
        for key, value in cfg.earlyStopping.algorithmSettings.items():
            if key not in MEDIANSTOP_SETTINGS:
                raise ConfigProblem(
                    f"sweep.earlyStopping.algorithmSettings.{key}: unknown medianstop "
                    f"setting (expected one of: {', '.join(MEDIANSTOP_SETTINGS)})"
                )
            if value < 1:
                raise ConfigProblem(
                    f"sweep.earlyStopping.algorithmSettings.{key}: must be >= 1, found {value}"
                )
    if cfg.parallelTrialCount > cfg.maxTrialCount:
        raise ConfigProblem(
            f"sweep.parallelTrialCount: {cfg.parallelTrialCount} is greater than "
            f"maxTrialCount {cfg.maxTrialCount} (expected parallel <= max)"
        )
    return out
