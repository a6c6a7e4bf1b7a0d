"""The local sweeper end to end: trials as subprocesses, best registered, failures, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from onepipe.config import load_settings


@pytest.mark.slow
def test_local_sweep_registers_best_with_lineage(sweep_project, cli):
    from onepipe.tracking.client import client_for, experiment_id
    from onepipe.tracking.registry import resolve_model

    result = cli("sweep", "--json", cwd=sweep_project)
    assert result.code == 0, result.err
    status = json.loads(result.out)
    assert status["state"] == "Succeeded" and status["backend"] == "optuna"
    assert status["counts"] == {"Running": 0, "Succeeded": 3, "Failed": 0, "EarlyStopped": 0}
    best = status["best"]
    assert best["value"] == max(t["value"] for t in status["trials"])
    assert set(best["params"]) == {"n_estimators", "learning_rate"}
    assert best["params"]["n_estimators"] in (5, 10, 15)
    # Metric lines were parsed: objective plus the additional metrics.
    assert set(best["metrics"]) == {"roc_auc", "accuracy", "f1"}

    settings = load_settings(sweep_project / "onepipe.yaml")
    client = client_for(settings)
    model = resolve_model(settings, f"{settings.model_name}@challenger")
    assert model.version == status["model_version"]
    mv = client.get_model_version(model.name, model.version)
    assert mv.tags["onepipe.trial"] == best["name"]
    assert mv.tags["onepipe.sweep_run"] == status["parent_run_id"]
    trial_run = client.get_run(model.run_id)
    assert trial_run.data.tags["mlflow.parentRunId"] == status["parent_run_id"]
    assert trial_run.data.params["n_estimators"] == str(best["params"]["n_estimators"])
    assert trial_run.data.metrics["roc_auc"] == pytest.approx(best["value"])

    # Trials re-ran only the swept (train) steps: upstream steps were cache hits.
    runs = client.search_runs(
        [experiment_id(settings)],
        "tags.`onepipe.sweep` = 'credit-risk-dev' and tags.`onepipe.kind` = 'pipeline'",
    )
    assert len(runs) == 3
    hits = sorted(int(r.data.tags["onepipe.cache_hits"]) for r in runs)
    assert hits[-1] >= 3  # ingest, validate, featurize reused by later trials

    shown = cli("sweep", "status", "--json", cwd=sweep_project)
    assert json.loads(shown.out)["best"]["name"] == best["name"]
    best_cmd = cli("sweep", "best", cwd=sweep_project)
    assert best_cmd.code == 0 and best["name"] in best_cmd.out
    best_json = json.loads(cli("sweep", "best", "--json", cwd=sweep_project).out)
    assert best_json["name"] == best["name"] and best_json["run_id"] == model.run_id
    again = cli("sweep", cwd=sweep_project)
    assert again.code == 2 and "--resume" in again.err


@pytest.mark.slow
def test_failed_trials_stop_the_sweep(sweep_project, cli, edit_sweep):
    # subsample 1.5 passes the space check (a float param) but the train step refuses it.
    edit_sweep(
        sweep_project,
        parameters=[
            {"name": "subsample", "parameterType": "discrete", "feasibleSpace": {"list": [1.5]}}
        ],
        maxFailedTrialCount=1,
        maxTrialCount=3,
        parallelTrialCount=1,
    )
    result = cli("sweep", cwd=sweep_project)
    assert result.code == 1
    assert "failed: 1 trials failed (maxFailedTrialCount 1)" in result.err
    status = json.loads(cli("sweep", "status", "--json", cwd=sweep_project).out)
    assert status["state"] == "Failed" and status["counts"]["Failed"] == 1
    assert status["model_version"] is None


@pytest.mark.slow
def test_interrupted_sweep_resumes(sweep_project, cli, edit_sweep):
    edit_sweep(sweep_project, maxTrialCount=3, parallelTrialCount=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", "sweep"],
        cwd=sweep_project,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    logs = sweep_project / ".onepipe" / "sweeps" / "credit-risk-dev"
    deadline = time.monotonic() + 120
    while not list(logs.glob("*-0.log")) and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(1.0)  # the first trial is in flight
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    status = json.loads(cli("sweep", "status", "--json", cwd=sweep_project).out)
    assert status["state"] == "Interrupted"
    # The trial in flight was terminated and is not counted as a result.
    assert sum(status["counts"].values()) < 3

    from onepipe.tracking.client import client_for, experiment_id

    settings = load_settings(sweep_project / "onepipe.yaml")
    client = client_for(settings)
    stuck = client.search_runs([experiment_id(settings)], "attributes.status = 'RUNNING'")
    assert stuck == []  # killed trials and the parent are closed, not left RUNNING

    resumed = cli("sweep", "--resume", "--json", cwd=sweep_project)
    assert resumed.code == 0, resumed.err
    final = json.loads(resumed.out)
    assert final["state"] == "Succeeded"
    assert final["counts"]["Succeeded"] == 3
    assert final["parent_run_id"] == status["parent_run_id"]
    assert os.path.exists(logs / "credit-risk-dev-0.log")
