"""Katib's algorithm and param vocabulary mapped onto Optuna.

Katib's own suggestion service runs Optuna for tpe, multivariate-tpe, random,
cmaes and grid, so locally the same samplers run; bayesianoptimization (Katib:
scikit-optimize) maps to Optuna's Gaussian-process sampler. medianstop maps to
``MedianPruner`` with Katib's settings.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from onepipe.config import Settings
from onepipe.errors import ConfigError
from onepipe.sweep.space import SearchParam, medianstop_settings

# Katib name -> (Optuna sampler class, the settings Katib documents for it -> Optuna kwarg).
SAMPLERS: dict[str, tuple[str, dict[str, str]]] = {
    "random": ("RandomSampler", {"random_state": "seed"}),
    "grid": ("GridSampler", {"random_state": "seed"}),
    "tpe": (
        "TPESampler",
        {
            "random_state": "seed",
            "n_startup_trials": "n_startup_trials",
            "n_ei_candidates": "n_ei_candidates",
        },
    ),
    "multivariate-tpe": (
        "TPESampler",
        {
            "random_state": "seed",
            "n_startup_trials": "n_startup_trials",
            "n_ei_candidates": "n_ei_candidates",
        },
    ),
    "cmaes": (
        "CmaEsSampler",
        {"random_state": "seed", "sigma": "sigma0", "restart_strategy": "restart_strategy"},
    ),
    "bayesianoptimization": (
        "GPSampler",
        {"random_state": "seed", "n_initial_points": "n_startup_trials"},
    ),
}
# Optional packages some Optuna samplers need; checked before the sweep starts.
NEEDS = {"CmaEsSampler": "cmaes", "GPSampler": "torch"}


def distribution(param: SearchParam):
    """The Optuna distribution for one Katib param (discrete is a categorical of numbers, as in Katib)."""
    # lazy: Optuna runs local sweeps only; Katib's experiment (katib/experiment.py) uses this
    # module without it
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if param.type == "double":
        return FloatDistribution(param.low, param.high, log=param.log, step=param.step)
    if param.type == "int":
        return IntDistribution(param.low, param.high, log=param.log, step=param.step or 1)
    return CategoricalDistribution(list(param.choices))


def grid_values(param: SearchParam) -> list[Any]:
    if param.choices:
        return list(param.choices)
    values, i = [], 0
    step = param.step or 1
    while param.low + i * step <= param.high + 1e-12:
        value = param.low + i * step
        values.append(int(value) if param.type == "int" else round(value, 12))
        i += 1
    return values


def sampler_kwargs(settings: Settings) -> tuple[str, dict[str, Any]]:
    """(Optuna sampler class name, kwargs) for the configured Katib algorithm; refuses unknown settings."""
    algo = settings.sweep.algorithm
    cls, known = SAMPLERS[algo.algorithmName]
    kwargs: dict[str, Any] = {}
    for key, value in algo.algorithmSettings.items():
        if key not in known:
            raise ConfigError(
                f"{settings.config_file.name}: sweep.algorithm.algorithmSettings.{key}: not a setting "
                f"of {algo.algorithmName} (expected one of: {', '.join(sorted(known))})"
            )
        kwargs[known[key]] = value
    if algo.algorithmName == "multivariate-tpe":
        kwargs["multivariate"] = True
    return cls, kwargs


def check_local(settings: Settings) -> None:
    """Refuse, before anything starts, an algorithm whose Optuna sampler cannot run here."""
    cls, _ = sampler_kwargs(settings)
    package = NEEDS.get(cls)
    if package and importlib.util.find_spec(package) is None:
        raise ConfigError(
            f"{settings.config_file.name}: sweep.algorithm.algorithmName: "
            f"{settings.sweep.algorithm.algorithmName} runs locally on Optuna's {cls}, which needs "
            f"the '{package}' package (not installed here); Katib runs it on the cluster"
        )


def make_sampler(settings: Settings, space: list[SearchParam]):
    import optuna  # lazy: as in distribution()

    cls, kwargs = sampler_kwargs(settings)
    if cls != "GridSampler":
        return getattr(optuna.samplers, cls)(**kwargs)

    class AskTellGridSampler(optuna.samplers.GridSampler):
        # Optuna's after_trial only calls study.stop() once the grid is used up, which
        # raises outside study.optimize: the last tell of every grid sweep would fail.
        # The sweeper stops at the grid size on its own.
        def after_trial(self, study, trial, state, values) -> None:
            return None

    return AskTellGridSampler({p.name: grid_values(p) for p in space}, **kwargs)


def make_pruner(settings: Settings):
    """Katib's medianstop as Optuna's MedianPruner; no early stopping -> NopPruner."""
    import optuna  # lazy: as in distribution()

    ms = medianstop_settings(settings)
    if ms is None:
        return optuna.pruners.NopPruner()
    # Katib: decide after `start_step` reports once `min_trials_required` trials completed.
    return optuna.pruners.MedianPruner(
        n_startup_trials=ms["min_trials_required"], n_warmup_steps=ms["start_step"] - 1
    )


def grid_size(space: list[SearchParam]) -> int:
    size = 1
    for p in space:
        size *= len(grid_values(p))
    return size
