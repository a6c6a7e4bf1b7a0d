"""Every Katib algorithm and param type maps to Optuna locally and to the Experiment identically."""

from __future__ import annotations

import optuna
import pytest

from onepipe.config import load_settings
from onepipe.sweep import algorithms
from onepipe.sweep.katib.experiment import build_experiment, feasible_space
from onepipe.sweep.space import check_space

PARAMS = [
    {
        "name": "n_estimators",
        "parameterType": "int",
        "feasibleSpace": {"min": 10, "max": 40, "step": 10},
    },
    {
        "name": "learning_rate",
        "parameterType": "double",
        "feasibleSpace": {"min": 0.01, "max": 0.3, "distribution": "logUniform"},
    },
    {"name": "subsample", "parameterType": "discrete", "feasibleSpace": {"list": [0.6, 0.8, 1.0]}},
    {"name": "max_depth", "parameterType": "categorical", "feasibleSpace": {"list": [2, 3]}},
]


def _settings(root, edit_sweep, **changes):
    edit_sweep(root, parameters=PARAMS, **changes)
    return load_settings(root / "onepipe.yaml")


def test_param_types_map_to_optuna_and_katib(sweep_project, edit_sweep):
    space = {p.name: p for p in check_space(_settings(sweep_project, edit_sweep), local=True)}
    dist = {n: algorithms.distribution(p) for n, p in space.items()}
    assert dist["n_estimators"] == optuna.distributions.IntDistribution(10, 40, step=10)
    assert dist["learning_rate"] == optuna.distributions.FloatDistribution(0.01, 0.3, log=True)
    assert dist["subsample"] == optuna.distributions.CategoricalDistribution([0.6, 0.8, 1.0])
    assert dist["max_depth"] == optuna.distributions.CategoricalDistribution([2, 3])
    assert feasible_space(space["n_estimators"]) == {"min": "10", "max": "40", "step": "10"}
    assert feasible_space(space["learning_rate"]) == {
        "min": "0.01",
        "max": "0.3",
        "distribution": "logUniform",
    }
    assert feasible_space(space["subsample"]) == {"list": ["0.6", "0.8", "1.0"]}
    assert feasible_space(space["max_depth"]) == {"list": ["2", "3"]}


@pytest.mark.parametrize(
    ("katib", "sampler", "extra"),
    [
        ("random", optuna.samplers.RandomSampler, {}),
        ("grid", optuna.samplers.GridSampler, {}),
        ("tpe", optuna.samplers.TPESampler, {}),
        ("multivariate-tpe", optuna.samplers.TPESampler, {"multivariate": True}),
        ("cmaes", optuna.samplers.CmaEsSampler, {}),
        ("bayesianoptimization", optuna.samplers.GPSampler, {}),
    ],
)
def test_every_algorithm_maps_to_its_optuna_sampler(
    sweep_project, edit_sweep, katib, sampler, extra
):
    params = [{**p, "feasibleSpace": {**p["feasibleSpace"], "distribution": None}} for p in PARAMS]
    params[1]["feasibleSpace"]["step"] = 0.05  # a finite grid
    edit_sweep(
        sweep_project,
        parameters=params,
        algorithm={"algorithmName": katib, "algorithmSettings": {"random_state": 3}},
    )
    settings = load_settings(sweep_project / "onepipe.yaml")
    name, kwargs = algorithms.sampler_kwargs(settings)
    assert getattr(optuna.samplers, name) is sampler
    assert kwargs == {"seed": 3, **extra}
    experiment = build_experiment(settings, parent_run_id=None, pin_data=False)
    assert experiment["spec"]["algorithm"] == {
        "algorithmName": katib,
        "algorithmSettings": [{"name": "random_state", "value": "3"}],
    }
    if katib != "bayesianoptimization":  # runnable here (GPSampler needs torch)
        made = algorithms.make_sampler(settings, check_space(settings, local=True))
        assert isinstance(made, sampler)
        if katib == "grid":
            assert algorithms.grid_size(check_space(settings)) == 4 * 6 * 3 * 2


def test_medianstop_maps_to_median_pruner(sweep_project, edit_sweep):
    edit_sweep(
        sweep_project,
        earlyStopping={
            "algorithmName": "medianstop",
            "algorithmSettings": {"min_trials_required": 2},
        },
    )
    settings = load_settings(sweep_project / "onepipe.yaml")
    pruner = algorithms.make_pruner(settings)
    assert isinstance(pruner, optuna.pruners.MedianPruner)
    assert (
        pruner._n_startup_trials == 2 and pruner._n_warmup_steps == 3
    )  # Katib start_step default 4
    spec = build_experiment(settings, parent_run_id=None, pin_data=False)["spec"]
    assert spec["earlyStopping"] == {
        "algorithmName": "medianstop",
        "algorithmSettings": [
            {"name": "min_trials_required", "value": "2"},
            {"name": "start_step", "value": "4"},
        ],
    }
    edit_sweep(sweep_project, earlyStopping=None)
    assert isinstance(
        algorithms.make_pruner(load_settings(sweep_project / "onepipe.yaml")),
        optuna.pruners.NopPruner,
    )
