"""Batch scoring: a data commit in, a predictions commit out, loaded as MLServer loads it."""

from __future__ import annotations

import io
import json

import pandas as pd
import pytest
from serve_helpers import load

from onepipe.data import open_store
from onepipe.errors import UsageError
from onepipe.serve.batch import score_commit


def test_predict_writes_a_commit_naming_model_and_input(project, capsys):
    from onepipe.cli.main import main

    settings = load(project)
    store = open_store(settings)
    assert (
        main(
            [
                "predict",
                "credit-risk@champion",
                "loans",
                "-c",
                str(project / "onepipe.yaml"),
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    loans = store.resolve("loans")
    assert result["version"] == "1" and result["uri"] == "models:/credit-risk/1"
    assert result["input"] == loans.ref
    assert result["provenance"] == [loans.ref, "models:/credit-risk/1"]
    commit = store.resolve(result["output"])
    assert (
        commit.provenance == (loans.ref, "models:/credit-risk/1")
        and "credit-risk/1" in commit.message
    )
    frame = pd.read_csv(io.BytesIO(store.read_bytes(commit.ref, "predictions.csv")))
    source = pd.read_csv(project / "data" / "loans" / "batch_1.csv")
    assert len(frame) == len(source) and set(frame["prediction"]) <= {0, 1}
    assert list(frame["application_id"]) == list(source["application_id"])
    meta = json.loads(store.read_bytes(commit.ref, "prediction-meta.json"))
    assert meta["run_id"] and meta["version"] == "1"


def test_same_predictions_as_the_registry_model(project):
    import mlflow.pyfunc

    settings = load(project)
    result = score_commit(settings, "credit-risk/2", "loans", output_repo="preds-v2")
    store = open_store(settings)
    got = pd.read_csv(io.BytesIO(store.read_bytes(result["output"], "predictions.csv")))[
        "prediction"
    ]
    source = pd.read_csv(project / "data" / "loans" / "batch_1.csv")
    from onepipe.tracking.registry import resolve_model

    model = mlflow.pyfunc.load_model(resolve_model(settings, "credit-risk/2").source)
    from components.lib import schema

    expected = model.predict(source[list(schema.FEATURES)])
    assert list(got) == [int(v) for v in expected]


def test_bad_input_commit_names_the_missing_columns(project, tmp_path):
    settings = load(project)
    bad = tmp_path / "bad.csv"
    bad.write_text("age,annual_income\n30,1000.0\n")
    open_store(settings).put("other", [bad])
    with pytest.raises(UsageError, match="missing column.*employment_type"):
        score_commit(settings, "credit-risk@champion", "other")


def test_a_model_loads_its_own_code_after_another_projects_components(project, tmp_path):
    """A notebook that ran one project, then scores with another's model: the model's
    shipped ``components`` wins over the ``components`` package already imported."""
    import importlib
    import sys

    other = tmp_path / "other-project"
    (other / "components").mkdir(parents=True)
    (other / "components" / "__init__.py").write_text("")
    (other / "components" / "model.py").write_text("WHO = 'other'\n")
    saved = {k: v for k, v in sys.modules.items() if k.split(".")[0] == "components"}
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, str(other))
    try:
        assert importlib.import_module("components.model").WHO == "other"
        result = score_commit(load(project), "credit-risk@champion", "loans", output_repo="p")
        assert result["rows"] > 0
        assert "other-project" not in (sys.modules["components"].__file__ or "")
    finally:
        sys.path.remove(str(other))
        for name in [k for k in sys.modules if k.split(".")[0] == "components"]:
            del sys.modules[name]
        sys.modules.update(saved)
