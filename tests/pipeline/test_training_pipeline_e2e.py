"""The example pipeline end to end on embedded defaults: real KFP compiler, real MLflow, both runners."""

from __future__ import annotations

import json

import pytest
from onepipe_testkit import FAST, run_onepipe

from onepipe.pipeline.execute import run_pipeline

STEPS = ["ingest", "validate", "featurize", "train", "evaluate"]


def test_first_run_executes_every_step_and_registers_a_challenger(trained):
    r = trained.result
    assert [s.name for s in r.steps] == STEPS
    assert [s.status for s in r.steps] == ["done"] * 5
    assert r.model_is_new and r.model_version == "1"
    assert 0.7 < r.metrics["roc_auc"] < 0.95
    assert set(r.metrics) >= {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}
    assert r.data_refs == {"data_ref": trained.data_ref}

    from onepipe.tracking.registry import resolve_model

    ref = resolve_model(trained.settings(), "credit-risk@challenger")
    assert ref.version == "1" and ref.run_id == r.run_id


def test_identical_rerun_is_all_cache_hits_and_reuses_the_model_version(trained):
    again = run_pipeline(trained.settings())
    assert [s.status for s in again.steps] == ["cached"] * 5
    assert again.executed == 0 and again.metrics == trained.result.metrics
    assert again.model_version == trained.result.model_version and not again.model_is_new
    assert all(s.source_run for s in again.steps)


def test_a_train_param_change_reruns_only_train_and_evaluate(trained):
    changed = run_pipeline(trained.settings("n_estimators=25"), register=False)
    assert [s.status for s in changed.steps] == ["cached", "cached", "cached", "done", "done"]


@pytest.mark.slow
def test_kfp_local_runner_gives_identical_metrics(trained):
    kfp = run_pipeline(trained.settings("backends.runner=kfp-local"), register=False)
    assert kfp.runner == "kfp-local"
    assert [s.status for s in kfp.steps] == ["done"] * 5
    assert kfp.metrics == trained.result.metrics
    assert kfp.step("train").metrics == trained.result.step("train").metrics


def test_compile_writes_ir_that_kfp_loads_back_with_the_configured_image(trained, tmp_path, cli):
    from kfp import components

    out = tmp_path / "pipeline.yaml"
    res = cli("compile", "-o", str(out), cwd=trained.root)
    assert res.code == 0, res.err
    loaded = components.load_component_from_file(str(out))
    assert loaded.name == "credit-risk-training"
    assert set(loaded.component_spec.inputs) >= {"data_store", "data_ref", "n_estimators"}
    images = {e["container"]["image"] for e in _yaml(out)["deploymentSpec"]["executors"].values()}
    assert images == {"ghcr.io/onepipe/credit-risk-train:0.1.0"}


def _yaml(path):
    import yaml

    return yaml.safe_load(path.read_text())


@pytest.mark.slow
def test_cli_run_in_a_real_process_reports_cache_hits_as_json(trained):
    res = run_onepipe("run", *[a for p in FAST for a in ("-p", p)], "--json", cwd=trained.root)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["executed"] == 0 and data["cache_hits"] == 5
    assert data["model_version"] == "1" and data["model_is_new"] is False
    assert "Traceback" not in res.err
    # Nothing executed, so the MLflow record was queued; every command that reads MLflow
    # brings the store current where it starts (outbox.catch_up), writing what is queued.
    assert data["tracking"] == "queued" and data["run_id"] == ""
    from onepipe.pipeline import outbox
    from onepipe.tracking.client import client_for

    settings = trained.settings()
    outbox.catch_up(settings)
    client = client_for(settings)
    assert outbox.pending(settings.outbox_dir) == []
    latest = client.search_runs(
        [trained.result.experiment_id],
        "tags.`onepipe.kind` = 'pipeline'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )[0]
    assert (
        latest.data.tags["onepipe.executed"] == "0"
        and latest.data.tags["onepipe.model"] == "credit-risk/1"
    )
    children = client.search_runs(
        [trained.result.experiment_id], f"tags.`mlflow.parentRunId` = '{latest.info.run_id}'"
    )
    assert sorted(c.data.tags["onepipe.cache_hit"] for c in children) == ["true"] * 5


@pytest.mark.slow
def test_bad_data_fails_the_validate_step_naming_column_and_rows(trained, tmp_path):
    import pandas as pd

    bad = pd.read_csv(trained.root / "data/loans/batch_1.csv").head(50)
    bad.loc[[3, 17], "annual_income"] = None
    path = tmp_path / "bad_batch.csv"
    bad.to_csv(path, index=False)
    put = run_onepipe("data", "put", "loans", str(path), "--branch", "bad", cwd=trained.root)
    assert put.code == 0, put.err
    res = run_onepipe("run", "-p", "data_ref=loans@bad", cwd=trained.root)
    assert res.code == 1
    assert (
        "validate" in res.err and "annual_income" in res.err and "3" in res.err and "17" in res.err
    )
    assert "Traceback" not in res.err
