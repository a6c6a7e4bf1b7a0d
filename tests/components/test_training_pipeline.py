"""The training pipeline compiles with the real KFP compiler and loads back."""

from __future__ import annotations

import yaml
from kfp import compiler, components

from components.steps import TRAINING_IMAGE
from pipelines.training import training_pipeline

STEPS = ["ingest", "validate", "featurize", "train", "evaluate"]
DEFAULTS = {
    "data_ref": "loans@master",
    "test_size": 0.25,
    "seed": 42,
    "n_estimators": 120,
    "max_depth": 3,
    "learning_rate": 0.1,
    "subsample": 1.0,
}


def test_pipeline_compiles_and_loads_back(tmp_path):
    path = tmp_path / "training.yaml"
    compiler.Compiler().compile(training_pipeline, str(path))
    spec = yaml.safe_load(path.read_text())

    assert spec["pipelineInfo"]["name"] == "credit-risk-training"
    params = spec["root"]["inputDefinitions"]["parameters"]
    assert {k: v.get("defaultValue") for k, v in params.items()} == {"data_store": None, **DEFAULTS}
    assert "isOptional" not in params["data_store"]

    tasks = spec["root"]["dag"]["tasks"]
    assert sorted(tasks) == sorted(STEPS)
    upstream = {name: task.get("dependentTasks", []) for name, task in tasks.items()}
    assert upstream == {
        "ingest": [],
        "validate": ["ingest"],
        "featurize": ["validate"],
        "train": ["featurize"],
        "evaluate": ["featurize", "train"],
    }

    executors = spec["deploymentSpec"]["executors"]
    assert len(executors) == len(STEPS)
    for executor in executors.values():
        container = executor["container"]
        assert container["image"] == TRAINING_IMAGE
        # The image carries kfp already: nothing may be pip-installed at step start.
        assert "pip install" not in " ".join(container["command"])

    outputs = spec["components"]["comp-evaluate"]["outputDefinitions"]["artifacts"]
    assert outputs["metrics"]["artifactType"]["schemaTitle"] == "system.Metrics"
    assert outputs["classification"]["artifactType"]["schemaTitle"] == (
        "system.ClassificationMetrics"
    )

    loaded = components.load_component_from_file(str(path))
    assert loaded.name == "credit-risk-training"
    assert set(loaded.component_spec.inputs) == {"data_store", *DEFAULTS}
