"""``onepipe init``: a project per task that every stage of onepipe accepts as it is."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from onepipe.quality.metrics import DEFAULTS
from onepipe.scaffold import datasets
from onepipe.scaffold.project import create_project

TASKS = ("binary", "multiclass", "regression")


def test_init_writes_a_complete_project(cli, tmp_path):
    result = cli("init", "churn", "--task", "binary", "--path", str(tmp_path / "churn"))
    assert result.code == 0, result.err
    root = tmp_path / "churn"
    for name in (
        "onepipe.yaml",
        "README.md",
        "Makefile",
        ".gitignore",
        "Dockerfile",
        "requirements.txt",
        "components/steps.py",
        "components/model.py",
        "pipelines/training.py",
        "tests/test_project.py",
        "data/records/batch_1.csv",
        "data/records/batch_4.csv",
    ):
        assert (root / name).is_file(), name
    text = "\n".join(p.read_text() for p in root.rglob("*") if p.is_file() and p.suffix != ".csv")
    assert "__" + "PROJECT__" not in text and "credit" not in text and "loans" not in text
    # The steps it prints work by hand.
    assert "onepipe data put records data/records/batch_1.csv" in result.out
    assert "make demo" in result.out


@pytest.mark.parametrize("task", TASKS)
def test_each_task_resolves_with_its_metrics(tmp_path, task):
    from onepipe.config import load_settings

    create_project(tmp_path / task, task, task)
    settings = load_settings(tmp_path / task / "onepipe.yaml")
    assert settings.task == task and settings.model.label == "target"
    assert [m.name for m in settings.metrics_for()] == list(DEFAULTS[task])
    objective = settings.sweep.objective
    assert objective.objectiveMetricName == DEFAULTS[task][0]
    assert objective.type == ("minimize" if task == "regression" else "maximize")


def test_bad_names_tasks_and_taken_directories_are_one_line_errors(cli, tmp_path):
    bad = cli("init", "My_Project", "--path", str(tmp_path / "x"))
    assert bad.code == 2 and bad.err.count("\n") == 1
    assert "project name 'My_Project': expected lowercase letters" in bad.err
    task = cli("init", "ok", "--task", "ranking", "--path", str(tmp_path / "y"))
    assert (
        task.code == 2
        and "--task 'ranking': expected one of binary, multiclass, regression" in task.err
    )
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    result = cli("init", "taken", "--path", str(taken))
    assert result.code == 2 and "exists and is not an empty directory" in result.err
    assert (taken / "keep.txt").read_text() == "mine" and len(list(taken.iterdir())) == 1


@pytest.mark.parametrize("task", TASKS)
def test_batches_are_deterministic_and_the_last_one_is_shifted(task):
    first = datasets.make_batches(task)
    second = datasets.make_batches(task)
    for a, b in zip(first, second, strict=True):
        pd.testing.assert_frame_equal(a, b)
    base, shifted = first[0], first[-1]
    assert list(base.columns) == list(shifted.columns) and datasets.LABEL in base
    moved = [
        c
        for c in base.columns
        if c != datasets.LABEL and abs(shifted[c].mean() - base[c].mean()) > 0.5 * base[c].std()
    ]
    assert len(moved) >= 2, moved
    # Batches 1..3 come from one distribution: no feature moved that far between them.
    assert all(
        abs(first[1][c].mean() - base[c].mean()) < 0.3 * base[c].std()
        for c in base.columns
        if c != datasets.LABEL
    )


@pytest.mark.slow
@pytest.mark.parametrize("task", TASKS)
def test_a_new_project_runs_caches_and_passes_its_own_test(tmp_path, task):
    from onepipe import Project

    root = tmp_path / task
    create_project(root, task, task)
    project = Project(root)
    project.put("records", [root / "data/records/batch_1.csv"], message="first")
    first = project.run(params={"n_estimators": 30})
    primary = DEFAULTS[task][0]
    assert first.status == "succeeded" and first.model_version == "1" and primary in first.metrics
    # The model step wrote the learning curve a sweep's early stopping reads.
    history = Path(first.step("train").outputs["history"].path).read_text().splitlines()
    assert len(history) == 30 and f'"validation_{primary}"' in history[-1]
    again = project.run(params={"n_estimators": 30})
    assert again.executed == 0 and again.cache_hits == 5 and again.model_version == "1"
    # The project's own test, as `make test` runs it (in this interpreter's environment).
    done = subprocess.run(
        [sys.executable, "-m", "unittest", "discover", "-s", "tests"],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if not k.startswith("ONEPIPE_")},
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Ran 1 test" in done.stderr and "OK" in done.stderr


@pytest.mark.slow
def test_steps_read_the_context_in_subprocesses_and_pods(tmp_path):
    """kfp.local runs each step in a fresh process (as a pod would): the label and task
    reach it through the environment; the compiled IR carries the same for a cluster."""
    import json

    from onepipe import Project
    from onepipe.pipeline.compile import compile_ir
    from onepipe.pipeline.context import ENV_VAR

    root = tmp_path / "reg"
    create_project(root, "reg", "regression")
    project = Project(root, params={"backends.runner": "kfp-local", "n_estimators": 20})
    project.put("records", [root / "data/records/batch_1.csv"], message="first")
    result = project.run(params={"n_estimators": 20})
    assert result.runner == "kfp-local" and result.status == "succeeded"
    assert {"rmse", "mae", "r2"} <= set(result.metrics)

    ir = compile_ir(project.settings)
    executors = ir["deploymentSpec"]["executors"].values()
    contexts = [
        json.loads(e["value"])
        for ex in executors
        for e in ex["container"].get("env", [])
        if e["name"] == ENV_VAR
    ]
    assert len(contexts) == len(executors) == 5
    assert all(c["task"] == "regression" and c["label"] == "target" for c in contexts)
    assert contexts[0]["metrics"][0] == ["rmse", "minimize"]


def test_demo_refuses_a_taken_port_before_doing_anything(cli, tmp_path, monkeypatch):
    import socket

    import yaml

    root = tmp_path / "demo"
    create_project(root, "demo", "regression")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
        cfg["serve"] = {"gateway": {"port": port}}
        (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        result = cli("demo", cwd=root)
    assert result.code == 2
    assert f"error: gateway port {port} on 127.0.0.1 is taken by another process" in result.err
    assert "Traceback" not in result.err and not (root / ".onepipe").exists()


def test_undeclared_or_unknown_metrics_are_one_line_config_errors(cli, tmp_path):
    import yaml

    root = tmp_path / "p"
    create_project(root, "p", "regression")
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())

    cfg["model"]["metrics"] = ["rmse", "smape"]
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    bad = cli("config", "show", cwd=root)
    assert bad.code == 2 and bad.err.count("\n") == 1
    assert "model.metrics: 'smape' is not a metric onepipe knows" in bad.err
    assert "{smape: maximize} or {smape: minimize}" in bad.err

    cfg["model"]["metrics"] = ["rmse", {"smape": "minimize"}]
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    assert cli("config", "show", cwd=root).code == 0

    # Nothing says what "better" means: the sweep refuses instead of assuming a classifier.
    del cfg["model"]["task"], cfg["model"]["metrics"]
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    sweep = cli("sweep", cwd=root)
    assert sweep.code == 2
    assert "sweep.objective.objectiveMetricName: not set and no metric to default to" in sweep.err
