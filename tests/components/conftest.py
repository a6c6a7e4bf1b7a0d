"""Fixtures for the credit-risk example: shipped batches and a step chain run in-process."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd
import pytest

REPO = Path(__file__).resolve().parents[2]
# `components` and `pipelines` live at the repository root, outside the installed package.
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = REPO / "data" / "loans"


def _read_batches(*batches: int) -> pd.DataFrame:
    frames = [pd.read_csv(DATA / f"batch_{b}.csv") for b in batches]
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="session")
def read_batches():
    return _read_batches


def _run_chain(workdir: Path, frame: pd.DataFrame, **params) -> dict:
    """validate -> featurize -> train -> evaluate through each step's python_func."""
    from kfp import dsl

    from components import STEPS

    p = {
        "test_size": 0.25,
        "seed": 42,
        "n_estimators": 120,
        "max_depth": 3,
        "learning_rate": 0.1,
        "subsample": 1.0,
    } | params
    workdir.mkdir(parents=True, exist_ok=True)
    a = {
        "raw": dsl.Dataset(uri=str(workdir / "raw")),
        "validated": dsl.Dataset(uri=str(workdir / "validated")),
        "train_set": dsl.Dataset(uri=str(workdir / "featurize" / "train_set")),
        "test_set": dsl.Dataset(uri=str(workdir / "featurize" / "test_set")),
        "model": dsl.Model(uri=str(workdir / "train" / "model")),
        "history": dsl.Artifact(uri=str(workdir / "train" / "history")),
        "train_metrics": dsl.Metrics(uri=str(workdir / "train" / "train_metrics")),
        "metrics": dsl.Metrics(uri=str(workdir / "evaluate" / "metrics")),
        "classification": dsl.ClassificationMetrics(uri=str(workdir / "evaluate" / "cls")),
    }
    frame.to_parquet(a["raw"].path, index=False)
    STEPS["validate"].python_func(raw=a["raw"], validated=a["validated"])
    STEPS["featurize"].python_func(
        validated=a["validated"],
        test_size=p["test_size"],
        seed=p["seed"],
        train_set=a["train_set"],
        test_set=a["test_set"],
    )
    STEPS["train"].python_func(
        train_set=a["train_set"],
        n_estimators=p["n_estimators"],
        max_depth=p["max_depth"],
        learning_rate=p["learning_rate"],
        subsample=p["subsample"],
        seed=p["seed"],
        model=a["model"],
        history=a["history"],
        train_metrics=a["train_metrics"],
    )
    STEPS["evaluate"].python_func(
        test_set=a["test_set"],
        model=a["model"],
        metrics=a["metrics"],
        classification=a["classification"],
    )
    # The history artifact is JSON Lines: one boosting stage a line.
    text = Path(a["history"].path).read_text()
    a["history_rows"] = [json.loads(line) for line in text.splitlines()]
    return a


@pytest.fixture(scope="session")
def run_chain():
    return _run_chain


@pytest.fixture(scope="session")
def default_run(tmp_path_factory) -> dict:
    """One chain with onepipe.yaml's default parameters on batch 1, shared by several tests."""
    return _run_chain(tmp_path_factory.mktemp("chain"), _read_batches(1))
