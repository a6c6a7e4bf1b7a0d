"""The same run against a real `mlflow server` subprocess (artifacts proxied over HTTP)."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx
import pytest
from onepipe_testkit import FAST, copy_project, free_port
from onepipe_testkit import mlflow_server as running_mlflow_server


@pytest.fixture(scope="module")
def mlflow_server(tmp_path_factory):
    with running_mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


@pytest.mark.slow
def test_pipeline_tracks_registers_and_reads_lineage_through_a_tracking_server(
    mlflow_server, tmp_path
):
    from onepipe.config import load_settings
    from onepipe.data import open_store
    from onepipe.pipeline.execute import run_pipeline
    from onepipe.tracking.client import client_for
    from onepipe.tracking.lineage import lineage

    root = copy_project(tmp_path / "proj")
    settings = load_settings(
        root / "onepipe.yaml", overrides=[*FAST, f"tracking.uri={mlflow_server}"], user="alice"
    )
    commit = open_store(settings).put("loans", [root / "data/loans/batch_1.csv"])
    result = run_pipeline(settings, command="pytest")
    assert result.model_version == "1" and result.tracking_uri == mlflow_server

    client = client_for(settings)
    run = client.get_run(result.run_id)
    assert run.data.tags["onepipe.user"] == "alice"
    assert run.info.artifact_uri.startswith("mlflow-artifacts:")
    mv = client.get_model_version("credit-risk", "1")
    assert mv.source.startswith("mlflow-artifacts:") and "challenger" in mv.aliases
    # The artifacts really went through the server: the model files are listed there.
    assert {a.path for a in client.list_artifacts(result.run_id, "model")} >= {"model/MLmodel"}

    info = lineage(settings, "credit-risk@challenger")
    assert info["data"] == [commit.ref]
    assert info["config"]["content"]["config"]["tracking"]["uri"] == mlflow_server
    assert len(info["steps"]) == 5

    # Identical rerun through the server: cache hits, same version.
    again = run_pipeline(settings, command="pytest")
    assert again.executed == 0 and again.model_version == "1"


@pytest.mark.slow
def test_onepipe_ui_serves_the_projects_tracking_store(trained):
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", "ui", "--port", str(port)],
        cwd=trained.root,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        else:
            pytest.fail("onepipe ui did not answer in 120 s")
        assert health.status_code == 200
        # The UI's API sees this project's experiment and its registered model.
        exps = httpx.get(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/search",
            params={"max_results": 10},
            timeout=10,
        ).json()
        assert "credit-risk-dev" in {e["name"] for e in exps["experiments"]}
        models = httpx.get(
            f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/search", timeout=10
        ).json()
        assert "credit-risk" in {m["name"] for m in models["registered_models"]}
    finally:
        proc.terminate()
        proc.wait(timeout=30)
