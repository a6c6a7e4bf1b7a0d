"""The public step helpers (``onepipe.steps``) on models and data that are not credit-risk's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kfp import dsl
from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer

from onepipe import steps
from onepipe.pipeline.context import ENV_VAR, StepContext, use
from onepipe.tracking.modelfacts import facts_tags, read_facts


def _regression_frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"x1": rng.normal(size=rows), "x2": rng.uniform(size=rows)})
    frame["kind"] = rng.choice(["a", "b"], size=rows)
    frame["y"] = 3 * frame.x1 - 2 * frame.x2 + rng.normal(0, 0.1, size=rows)
    return frame


def _load_in_a_fresh_process(model_dir: Path, rows: pd.DataFrame, cwd: Path) -> list:
    """MLflow pyfunc load + predict in a new interpreter that has no project on its path."""
    script = textwrap.dedent(
        """
        import io, json, sys
        import mlflow.pyfunc, pandas as pd
        model = mlflow.pyfunc.load_model(sys.argv[1])
        rows = pd.read_json(io.StringIO(sys.argv[2]), orient="records")
        print(json.dumps([float(v) for v in model.predict(rows)]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH",)}
    done = subprocess.run(
        [sys.executable, "-c", script, str(model_dir), rows.to_json(orient="records")],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_save_model_for_a_regressor_records_task_label_signature_and_profile(tmp_path):
    frame = _regression_frame()
    x = frame[["x1", "x2"]]
    model = GradientBoostingRegressor(n_estimators=20, random_state=0).fit(x, frame.y)
    out = dsl.Model(uri=str(tmp_path / "model"))
    facts = steps.save_model(model, out, frame[["x1", "x2", "y"]], label="y")
    assert facts == {"task": "regression", "label": "y", "features": ["x1", "x2"]}
    assert read_facts(out.path) == facts
    assert facts_tags(out.path) == {"onepipe.task": "regression", "onepipe.label": "y"}
    assert out.metadata["task"] == "regression"
    mlmodel = (Path(out.path) / "MLmodel").read_text()
    assert '"name": "x1"' in mlmodel and '"name": "y"' not in mlmodel
    profile = json.loads((Path(out.path) / "reference_profile.json").read_text())
    assert set(profile["numeric"]) == {"x1", "x2"} and profile["label"]["name"] == "y"
    # sklearn's tree storage must be trusted for skops to load it: found, not hand-listed.
    assert "sklearn.tree._tree.Tree" in mlmodel
    got = _load_in_a_fresh_process(Path(out.path), x.head(3), tmp_path)
    np.testing.assert_allclose(got, model.predict(x.head(3)))


def test_save_model_ships_the_project_code_its_pickle_references(tmp_path, monkeypatch):
    """A Pipeline with a transformer from the project's own module loads where the
    project is not importable (MLServer's process), because the module travels along."""
    project = tmp_path / "proj"
    (project / "mylib" / "sub").mkdir(parents=True)
    (project / "mylib" / "__init__.py").write_text("import kfp  # what the model must not need\n")
    (project / "mylib" / "sub" / "__init__.py").write_text("")
    (project / "mylib" / "sub" / "feats.py").write_text(
        "import numpy as np\n\ndef squares(x):\n    return np.asarray(x, dtype=float) ** 2\n"
    )
    monkeypatch.syspath_prepend(str(project))
    from mylib.sub.feats import squares

    frame = pd.DataFrame({"a": np.arange(60) % 7, "b": np.arange(60) % 3})
    frame["label"] = (frame.a > 3).astype(int)
    model = Pipeline(
        [("sq", FunctionTransformer(squares)), ("rf", RandomForestClassifier(5, random_state=0))]
    ).fit(frame[["a", "b"]], frame.label)
    out = tmp_path / "model"
    facts = steps.save_model(model, out, frame, label="label")
    assert facts["task"] == "binary" and facts["classes"] == [0, 1]
    code = out / "code"
    assert (code / "mylib" / "sub" / "feats.py").is_file()
    assert "kfp" not in (code / "mylib" / "__init__.py").read_text()
    got = _load_in_a_fresh_process(out, frame[["a", "b"]].head(4), tmp_path)
    assert got == [float(v) for v in model.predict(frame[["a", "b"]].head(4))]


def test_save_model_refuses_a_model_of_another_task_than_declared(tmp_path):
    frame = _regression_frame()
    model = GradientBoostingRegressor(n_estimators=5).fit(frame[["x1"]], frame.y)
    with use(StepContext(task="binary", label="y")):
        with pytest.raises(ValueError, match="task is 'binary' .* regression model"):
            steps.save_model(model, tmp_path / "m", frame[["x1", "y"]])


def test_history_writes_one_flushed_line_per_stage_and_refuses_bad_rows(tmp_path):
    art = dsl.Artifact(uri=str(tmp_path / "history"))
    with steps.History(art) as log:
        log.stage(1, validation_rmse=2.0)
        assert json.loads(Path(art.path).read_text()) == {"step": 1, "validation_rmse": 2.0}
        log.stage(2, validation_rmse=1.5, train_rmse=np.float32(1.0))
        with pytest.raises(ValueError, match="step 2 after step 2"):
            log.stage(2, validation_rmse=1.0)
        with pytest.raises(ValueError, match="expected a finite number"):
            log.stage(3, validation_rmse=float("nan"))
    assert art.metadata == {
        "format": "jsonl",
        "steps": 2,
        "metrics": ["train_rmse", "validation_rmse"],
    }


def test_check_frame_names_column_and_rows():
    frame = pd.DataFrame({"a": [1.0, None, 3.0, None], "y": [0, 1, 0, 1]})
    with pytest.raises(ValueError, match=r"column 'a': 2 null values at rows 1, 3"):
        steps.check_frame(frame, label="y")
    with pytest.raises(ValueError, match="label column 'target' is missing"):
        steps.check_frame(frame.fillna(0), label="target")
    with pytest.raises(ValueError, match="one class only"):
        steps.check_frame(frame.fillna(0).assign(y=1), label="y", task="binary")
    with pytest.raises(ValueError, match="expected numbers for a regression task"):
        steps.check_frame(frame.fillna(0).assign(y=["u", "v"] * 2), label="y", task="regression")
    assert steps.check_frame(frame, label="y", allow_nulls=True) is frame


def test_split_is_stratified_for_classification_only():
    frame = pd.DataFrame({"x": range(400), "y": [0] * 360 + [1] * 40})
    train, test = steps.split(frame, label="y", test_size=0.25, seed=1, task="binary")
    assert (len(train), len(test)) == (300, 100) and test.y.sum() == 10
    with pytest.raises(ValueError, match="test_size must be between 0 and 1"):
        steps.split(frame, label="y", test_size=1.5)


@pytest.mark.parametrize(
    ("task", "expected"),
    [
        ("regression", {"rmse", "mae", "r2"}),
        ("multiclass", {"accuracy", "f1_macro", "log_loss"}),
    ],
)
def test_evaluate_reports_the_tasks_metrics(task, expected):
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"a": rng.normal(size=300), "b": rng.normal(size=300)})
    if task == "regression":
        frame["t"] = frame.a * 2 + rng.normal(0, 0.1, 300)
        model = GradientBoostingRegressor(n_estimators=30).fit(frame[["a", "b"]], frame.t)
    else:
        frame["t"] = np.where(frame.a > 0.5, "hi", np.where(frame.a < -0.5, "lo", "mid"))
        model = RandomForestClassifier(20, random_state=0).fit(frame[["a", "b"]], frame.t)
    metrics = steps.evaluate(model, frame, label="t")
    assert expected <= set(metrics)
    if task == "regression":
        assert metrics["rmse"] < frame.t.std() / 3 and metrics["r2"] > 0.9
    else:
        assert metrics["accuracy"] > 0.9 and 0 < metrics["log_loss"] < 0.5
    # Declared metrics in the context lead; unknown-to-onepipe names are left to the project.
    with use(StepContext(task=task, label="t", metrics=((sorted(expected)[0], "maximize"),))):
        assert sorted(expected)[0] in steps.evaluate(model, frame)


def test_context_reaches_a_step_process_through_the_environment():
    ctx = StepContext(task="regression", label="price", metrics=(("mae", "minimize"),))
    script = "from onepipe import steps; c = steps.context(); print(c.task, c.label, c.metrics)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, ENV_VAR: ctx.to_json()},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.strip() == "regression price (('mae', 'minimize'),)", done.stderr
    assert StepContext().key != ctx.key  # part of every step's cache key
