"""A wrong search space is refused before anything starts, with one line naming param and problem."""

from __future__ import annotations

import pytest


def _param(name, kind, **space):
    return {"name": name, "parameterType": kind, "feasibleSpace": space}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"parameters": [_param("max_depth", "int", min=6, max=2)]},
            "sweep.parameters.max_depth: feasibleSpace.min 6 is greater than max 2",
        ),
        (
            {"parameters": [_param("max_deep", "int", min=2, max=6)]},
            "sweep.parameters.max_deep: not a param of the pipeline (did you mean: max_depth",
        ),
        (
            {"parameters": [_param("subsample", "categorical", list=[])]},
            "sweep.parameters.subsample: parameterType categorical has no values",
        ),
        (
            {
                "parameters": [_param("learning_rate", "double", min=0.01, max=0.3)],
                "algorithm": {"algorithmName": "grid"},
            },
            "sweep.parameters.learning_rate: algorithm grid needs feasibleSpace.step",
        ),
        (
            {
                "parameters": [
                    _param("learning_rate", "double", min=0, max=0.3, distribution="logUniform")
                ]
            },
            "sweep.parameters.learning_rate: distribution logUniform needs min > 0",
        ),
        (
            {"parameters": [_param("n_estimators", "double", min=5, max=10)]},
            "sweep.parameters.n_estimators: the pipeline param is an integer",
        ),
        (
            {"parameters": [_param("max_depth", "int", min=2.5, max=4)]},
            "sweep.parameters.max_depth: feasibleSpace.min must be an integer",
        ),
        (
            {"parameters": [_param("max_depth", "int", max=4)]},
            "sweep.parameters.max_depth: feasibleSpace.min is missing",
        ),
        ({"parameters": []}, "sweep.parameters: empty"),
        (
            {"algorithm": {"algorithmName": "hyperband"}},
            "sweep.algorithm.algorithmName: expected one of",
        ),
        (
            {
                "earlyStopping": {
                    "algorithmName": "medianstop",
                    "algorithmSettings": {"min_trials": 2},
                }
            },
            "sweep.earlyStopping.algorithmSettings.min_trials: unknown medianstop setting",
        ),
        (
            {"algorithm": {"algorithmName": "tpe", "algorithmSettings": {"gamma": 3}}},
            "sweep.algorithm.algorithmSettings.gamma: not a setting of tpe",
        ),
    ],
)
@pytest.mark.parametrize(
    "command", [["sweep"], ["render", "sweep"], ["sweep", "--target", "cluster"]]
)
def test_bad_space_is_refused_in_one_line(
    sweep_project, cli, edit_sweep, changes, expected, command
):
    edit_sweep(sweep_project, **changes)
    result = cli(*command, cwd=sweep_project)
    assert result.code == 2, result.err
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.err
    assert expected in lines[0]
    assert "Traceback" not in result.err
    # Refused before anything started: no study, no MLflow parent run.
    assert not (sweep_project / ".onepipe" / "sweeps").exists()
    assert not (sweep_project / ".onepipe" / "mlflow.db").exists()


def test_bayesianoptimization_without_torch_is_refused_locally_but_renders(
    sweep_project, cli, edit_sweep
):
    import importlib.util

    if importlib.util.find_spec("torch") is not None:
        pytest.skip("torch is installed here")
    edit_sweep(sweep_project, algorithm={"algorithmName": "bayesianoptimization"})
    local = cli("sweep", cwd=sweep_project)
    assert local.code == 2 and "needs the 'torch' package" in local.err
    rendered = cli("render", "sweep", cwd=sweep_project)
    assert rendered.code == 0 and "algorithmName: bayesianoptimization" in rendered.out


def test_variant_overrides_the_sweep(sweep_project, cli):
    from onepipe.config import load_settings

    base = load_settings(sweep_project / "onepipe.yaml")
    fast = load_settings(sweep_project / "onepipe.yaml", variant="fast")
    assert base.sweep.maxTrialCount == 3
    assert fast.sweep.maxTrialCount == 4  # from variants.fast.sweep in onepipe.yaml
    assert [p.name for p in fast.sweep.parameters] == ["n_estimators", "learning_rate"]
