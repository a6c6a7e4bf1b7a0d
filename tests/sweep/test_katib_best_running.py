"""`onepipe sweep best --target katib` names the best trial's MLflow run while the Experiment
is still running: the kmock emulator through the real kubernetes client, a real MLflow store."""

from __future__ import annotations

import json

from onepipe.config import load_settings
from onepipe.sweep.katib.experiment import build_experiment
from onepipe.sweep.naming import sweep_name
from onepipe.tracking.client import client_for, experiment_id


def _trial_run(settings, sweep: str, trial: str, status: str) -> str:
    """A trial's run as `onepipe trial` leaves it: tagged with its sweep and trial name."""
    client = client_for(settings)
    run = client.create_run(
        experiment_id(settings), tags={"onepipe.sweep": sweep, "onepipe.trial": trial}
    )
    if status != "RUNNING":
        client.set_terminated(run.info.run_id, status=status)
    return run.info.run_id


def _optimal(trial: str, roc_auc: float) -> dict:
    return {
        "bestTrialName": trial,
        "parameterAssignments": [
            {"name": "n_estimators", "value": "10"},
            {"name": "learning_rate", "value": "0.1"},
        ],
        "observation": {"metrics": [{"name": "roc_auc", "latest": str(roc_auc)}]},
    }


def test_best_has_the_optimal_trials_run_while_the_experiment_runs(
    sweep_project, kmock_server, cli, tmp_path
):
    from kubernetes import client

    settings = load_settings(sweep_project / "onepipe.yaml", user="tester")
    sweep = sweep_name(settings, None)
    api = client.CustomObjectsApi(kmock_server.api())
    experiment = build_experiment(settings, name=sweep, parent_run_id=None, pin_data=False)
    api.create_namespaced_custom_object(
        "kubeflow.org", "v1beta1", "default", "experiments", experiment
    )

    def running_with(optimal: dict) -> None:
        status = {
            "conditions": [
                {"type": "Created", "status": "True"},
                {"type": "Running", "status": "True"},
            ],
            "trialsRunning": 1,
            "trialsSucceeded": 1,
            "currentOptimalTrial": optimal,
        }
        api.patch_namespaced_custom_object_status(
            "kubeflow.org", "v1beta1", "default", "experiments", sweep, {"status": status}
        )

    first, second = f"{sweep}-aaaa1111", f"{sweep}-bbbb2222"
    wanted = _trial_run(settings, sweep, first, "FINISHED")
    _trial_run(settings, sweep, first, "KILLED")  # an earlier attempt of the same trial
    _trial_run(settings, sweep, second, "FINISHED")  # another trial
    _trial_run(settings, f"{sweep}-other", first, "FINISHED")  # another sweep, same trial name
    running_with(_optimal(first, 0.91))

    kubeconfig = str(kmock_server.kubeconfig(tmp_path / "kubeconfig"))
    base = ("sweep", "--target", "katib", "--kubeconfig", kubeconfig)
    status = cli(*base, "status", "--json", cwd=sweep_project)
    assert status.code == 0, status.err
    assert json.loads(status.out)["state"] == "Running"

    best = cli(*base, "best", "--json", cwd=sweep_project)
    assert best.code == 0, best.err
    got = json.loads(best.out)
    assert got["name"] == first and got["value"] == 0.91
    assert got["run_id"] == wanted
    human = cli(*base, "best", cwd=sweep_project)
    assert human.code == 0 and f"run: {wanted}" in human.out

    # A newer optimum whose trial is still running: its open run is the one named.
    third = f"{sweep}-cccc3333"
    open_run = _trial_run(settings, sweep, third, "RUNNING")
    running_with(_optimal(third, 0.95))
    again = json.loads(cli(*base, "best", "--json", cwd=sweep_project).out)
    assert again["name"] == third and again["run_id"] == open_run
