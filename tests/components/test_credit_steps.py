"""The five steps run through their python_func with real KFP artifact objects."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kfp import dsl

from components import STEPS, evaluate, featurize, ingest, train, validate
from components.lib import schema
from components.lib.validation import DataValidationError

EVAL_METRICS = {"accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"}


def test_steps_are_exported_in_pipeline_order():
    assert list(STEPS) == ["ingest", "validate", "featurize", "train", "evaluate"]
    assert [STEPS[n] for n in STEPS] == [ingest, validate, featurize, train, evaluate]


def test_ingest_reads_a_commit_of_the_local_store(tmp_path, read_batches):
    from onepipe.data import LocalDataStore

    data = Path(__file__).resolve().parents[2] / "data" / "loans"
    store = LocalDataStore(tmp_path / "store")
    store.create_repo("loans")
    first = store.put("loans", [data / "batch_1.csv"], message="batch 1")
    store.put("loans", [data / "batch_2.csv"], message="batch 2")

    raw = dsl.Dataset(uri=str(tmp_path / "ingest" / "raw"))
    ingest.python_func(data_store=f"file://{tmp_path / 'store'}", data_ref="loans@master", raw=raw)
    got = pd.read_parquet(raw.path)
    pd.testing.assert_frame_equal(got, read_batches(1, 2), check_dtype=False)
    head = store.resolve("loans@master")
    assert raw.metadata == {
        "rows": 5000,
        "columns": len(schema.COLUMNS),
        "data_ref": "loans@master",
        "data_commit": head.ref,
    }

    # An older commit by id reads exactly what it held.
    old = dsl.Dataset(uri=str(tmp_path / "old" / "raw"))
    ingest.python_func(data_store=f"file://{tmp_path / 'store'}", data_ref=first.ref, raw=old)
    assert old.metadata["rows"] == 2500 and old.metadata["data_commit"] == first.ref


def test_validate_step_fails_on_bad_data_naming_column_and_rows(tmp_path, read_batches):
    frame = read_batches(1).head(100)
    frame.loc[[7, 8], "interest_rate"] = 55.0
    raw = dsl.Dataset(uri=str(tmp_path / "raw"))
    frame.to_parquet(raw.path)
    with pytest.raises(DataValidationError, match=r"'interest_rate': 2 values above .* rows 7, 8"):
        validate.python_func(raw=raw, validated=dsl.Dataset(uri=str(tmp_path / "out")))


def test_featurize_splits_stratified_raw_columns(default_run):
    train_set = pd.read_parquet(default_run["train_set"].path)
    test_set = pd.read_parquet(default_run["test_set"].path)
    assert list(train_set.columns) == [schema.ID, *schema.FEATURES, schema.LABEL]
    assert (len(train_set), len(test_set)) == (1875, 625)
    assert not set(train_set[schema.ID]) & set(test_set[schema.ID])
    assert abs(train_set[schema.LABEL].mean() - test_set[schema.LABEL].mean()) < 0.01
    assert default_run["test_set"].metadata["rows"] == 625


def test_train_writes_model_history_and_metrics(default_run):
    history = default_run["history_rows"]
    assert len(history) == 120 and [h["step"] for h in history[:3]] == [1, 2, 3]
    assert set(history[0]) == {
        "step",
        "train_log_loss",
        "train_roc_auc",
        "validation_log_loss",
        "validation_roc_auc",
    }
    # Boosting fits the training data ever better.
    assert history[-1]["train_log_loss"] < history[0]["train_log_loss"]
    assert history[-1]["validation_roc_auc"] > 0.75
    metrics = default_run["train_metrics"].metadata
    assert metrics["train_roc_auc"] == history[-1]["train_roc_auc"]
    assert 0.75 < metrics["validation_roc_auc"] < 0.95
    assert (Path(default_run["model"].path) / "MLmodel").is_file()
    # JSON Lines (one stage a line) so a trial can follow it while the fit runs.
    assert default_run["history"].metadata["format"] == "jsonl"
    assert default_run["history"].metadata["steps"] == 120


@pytest.mark.parametrize("subsample", [1.0, 0.7])
def test_live_history_equals_staged_predict_proba(read_batches, subsample):
    """The per-stage scores computed during the fit are the staged_predict_proba curve."""
    from sklearn.model_selection import train_test_split

    from components.lib import features, modeling
    from components.lib.validation import conform

    frame = conform(read_batches(3)).head(800)
    params = modeling.TrainParams(n_estimators=15, max_depth=2, subsample=subsample, seed=5)
    handed = []
    result = modeling.train(frame, params, on_stage=handed.append)
    assert handed == result.history and [r["step"] for r in handed] == list(range(1, 16))

    # The curve as it used to be computed: after the fit, from the finished model.
    fit_part, val_part = train_test_split(
        frame, test_size=modeling.VALIDATION_FRACTION, random_state=5, stratify=frame[schema.LABEL]
    )
    prep = result.pipeline.named_steps["preprocess"]
    classifier = result.pipeline.named_steps["classifier"]
    staged = {}
    for prefix, part in (("train", fit_part), ("validation", val_part)):
        x, y = features.features_and_label(part)
        curve = [
            modeling._scores(prefix, y, p[:, 1])
            for p in classifier.staged_predict_proba(prep.transform(x))
        ]
        staged |= {
            f"{prefix}_{m}": [c[f"{prefix}_{m}"] for c in curve] for m in ("log_loss", "roc_auc")
        }
    for name, expected in staged.items():
        live = [row[name] for row in result.history]
        np.testing.assert_allclose(live, expected, rtol=0, atol=1e-12, err_msg=name)


def test_evaluate_logs_metrics_and_classification_outputs(default_run):
    metrics = default_run["metrics"].metadata
    assert set(metrics) == EVAL_METRICS
    assert all(type(v) is float for v in metrics.values())
    assert 0.78 < metrics["roc_auc"] < 0.92
    assert 0.78 < metrics["accuracy"] < 0.92
    assert 0.25 < metrics["log_loss"] < 0.5

    ui = default_run["classification"].metadata
    matrix = ui["confusionMatrix"]
    assert [s["displayName"] for s in matrix["annotationSpecs"]] == ["repaid", "default"]
    assert sum(sum(r["row"]) for r in matrix["rows"]) == 625
    curve = ui["confidenceMetrics"]
    assert 2 < len(curve) <= 50
    assert (curve[0]["falsePositiveRate"], curve[-1]["falsePositiveRate"]) == (0.0, 1.0)
    json.dumps(ui, allow_nan=False)  # the UI reads it as strict JSON


def test_same_seed_gives_bit_identical_results(tmp_path, run_chain, read_batches):
    frame = read_batches(2)
    first = run_chain(tmp_path / "a", frame, n_estimators=30, subsample=0.8, seed=7)
    second = run_chain(tmp_path / "b", frame, n_estimators=30, subsample=0.8, seed=7)
    for name in ("metrics", "train_metrics", "classification"):
        assert first[name].metadata == second[name].metadata, name
    assert first["history_rows"] == second["history_rows"]
    other = run_chain(tmp_path / "c", frame, n_estimators=30, subsample=0.8, seed=8)
    assert other["metrics"].metadata != first["metrics"].metadata


def test_bad_hyperparameters_fail_with_their_names(tmp_path, default_run):
    with pytest.raises(ValueError, match="max_depth must be >= 1, got 0"):
        train.python_func(
            train_set=default_run["train_set"],
            n_estimators=10,
            max_depth=0,
            learning_rate=0.1,
            subsample=1.0,
            seed=1,
            model=dsl.Model(uri=str(tmp_path / "m")),
            history=dsl.Artifact(uri=str(tmp_path / "h")),
            train_metrics=dsl.Metrics(uri=str(tmp_path / "t")),
        )


_LOAD_AND_PREDICT = """
import json, sys
import mlflow.pyfunc, mlflow.sklearn, pandas as pd
model = mlflow.pyfunc.load_model(sys.argv[1])
rows = pd.read_parquet(sys.argv[2])
proba = mlflow.sklearn.load_model(sys.argv[1]).predict_proba(rows)[:, 1]
code = sys.modules["components.lib.features"].__file__
print(json.dumps({"predict": model.predict(rows).tolist(), "proba": proba.tolist(), "code": code}))
"""


def test_saved_model_loads_and_predicts_in_a_fresh_process(tmp_path, default_run):
    """What MLServer does: no repository on the path, only the model directory."""
    import mlflow.sklearn

    test_set = pd.read_parquet(default_run["test_set"].path)
    rows = test_set[list(schema.FEATURES)].head(20)
    rows.to_parquet(tmp_path / "rows.parquet")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    done = subprocess.run(
        [sys.executable, "-c", _LOAD_AND_PREDICT, default_run["model"].path, "rows.parquet"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    served = json.loads(done.stdout.strip().splitlines()[-1])
    local = mlflow.sklearn.load_model(default_run["model"].path)
    assert served["predict"] == local.predict(rows).tolist()
    assert served["proba"] == local.predict_proba(rows)[:, 1].tolist()
    # The pickled feature functions came from the code shipped inside the model.
    assert Path(served["code"]).is_relative_to(Path(default_run["model"].path).resolve())


def test_step_imports_work_inside_a_kfp_container():
    """KFP's executor sets _KFP_RUNTIME, under which kfp.dsl has no ``component``;
    a step body's ``import components.lib...`` must not pull in the decorators."""
    repo = Path(__file__).resolve().parents[2]
    env = dict(os.environ, _KFP_RUNTIME="true", PYTHONPATH=f"{repo}{os.pathsep}{repo / 'src'}")
    code = (
        "import kfp.dsl, components.lib.validation, components.lib.modeling,"
        " components.lib.evaluation; assert not hasattr(kfp.dsl, 'component')"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]


@pytest.mark.slow
@pytest.mark.filterwarnings("ignore:You may be attemping:RuntimeWarning")
def test_whole_pipeline_runs_in_kfp_local_subprocesses(tmp_path, monkeypatch):
    """Parity with the cluster: KFP's own executor runs each step from its shipped source."""
    from kfp import local
    from kfp.local import config as local_config

    from onepipe.data import LocalDataStore
    from pipelines.training import training_pipeline

    repo = Path(__file__).resolve().parents[2]
    monkeypatch.setenv("PYTHONPATH", f"{repo}{os.pathsep}{repo / 'src'}")
    store = LocalDataStore(tmp_path / "store")
    store.put("loans", [repo / "data" / "loans" / "batch_3.csv"])
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(tmp_path / "root"))
    try:
        training_pipeline(data_store=f"file://{tmp_path / 'store'}", n_estimators=20)
    finally:
        local_config.LocalExecutionConfig.instance = None  # leave no global runner behind
    [metrics_file] = (tmp_path / "root").glob("*/evaluate/executor_output.json")
    output = json.loads(metrics_file.read_text())
    [metrics] = output["artifacts"]["metrics"]["artifacts"]
    assert 0.75 < metrics["metadata"]["roc_auc"] < 0.95
