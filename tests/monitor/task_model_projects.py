"""Projects whose model is not the credit-risk classifier: one per task.

Each project registers two small real scikit-learn models (``onepipe.steps.save_model``
into a temp dir, then ``tracking.registry.register``: the version's ``onepipe.task``
tag comes from what save_model recorded), the first promoted to champion, and logs
their real answers on fresh rows with the true values as feedback.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

LABEL = "target"
MODEL = "own-model"
ROWS_PER_REQUEST = 4


@dataclass
class TaskProject:
    root: Path
    task: str
    models: dict[str, Any] = field(default_factory=dict)  # version -> fitted estimator
    # version -> (answers, truths) of every logged row, in order
    logged: dict[str, tuple[list, list]] = field(default_factory=dict)

    def settings(self):
        from onepipe.config import load_settings

        return load_settings(self.root / "onepipe.yaml", env="dev", user="tester")


TRAIN, HOLDOUT = slice(0, 400), slice(400, 600)  # rows of ``population``; the rest is live


def population(task: str, n: int = 2000) -> pd.DataFrame:
    """One synthetic problem per task (fixed seed): training, held-out and live rows."""
    from sklearn.datasets import make_classification, make_regression

    seed = 1
    if task == "regression":
        x, y = make_regression(n_samples=n, n_features=4, noise=8.0, random_state=seed)
    else:
        classes = 2 if task == "binary" else 3
        x, y = make_classification(
            n_samples=n,
            n_features=4,
            n_informative=3,
            n_redundant=0,
            n_classes=classes,
            random_state=seed,
        )
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(x.shape[1])])
    frame[LABEL] = y
    return frame


def estimator(task: str, version: int):
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "regression":
        return Ridge(alpha=1.0 if version == 1 else 50.0)
    return LogisticRegression(C=1.0 if version == 1 else 0.05, max_iter=500)


def make_project(root: Path, task: str, *, model: dict[str, Any] | None = None) -> TaskProject:
    """A project with two registered versions of a ``task`` model; v1 champion, v2 challenger.

    ``model``: the ``model:`` section's extra keys (e.g. a declared task or metrics);
    by default nothing is declared, so the task is the one recorded with each version.
    """
    from onepipe.quality.metrics import offline_metrics
    from onepipe.steps import save_model
    from onepipe.tracking.client import client_for, experiment_id
    from onepipe.tracking.registry import promote, register

    root.mkdir(parents=True, exist_ok=True)
    config = {
        "project": MODEL,
        "model": {"name": MODEL, **(model or {})},
        "tracking": {"uri": "sqlite:///.onepipe/mlflow.db"},
    }
    (root / "onepipe.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    project = TaskProject(root, task)
    settings = project.settings()
    client = client_for(settings)
    rows = population(task)
    train, holdout = rows.iloc[TRAIN], rows.iloc[HOLDOUT]
    for n in (1, 2):
        fitted = estimator(task, n).fit(train.drop(columns=[LABEL]), train[LABEL])
        run = client.create_run(experiment_id(settings), tags={"onepipe.kind": "pipeline"})
        rid = run.info.run_id
        x = holdout.drop(columns=[LABEL])
        score = None
        if task != "regression":
            proba = fitted.predict_proba(x)
            score = proba[:, 1] if task == "binary" else proba
        for name, value in offline_metrics(task, holdout[LABEL], fitted.predict(x), score).items():
            client.log_metric(rid, name, value)
        model_dir = root / "trained" / f"model-{n}"
        save_model(fitted, model_dir, train, label=LABEL)
        ref, _ = register(settings, rid, model_dir, f"{task}-model-{n}")
        client.set_terminated(rid)
        project.models[ref.version] = fitted
        if n == 1:
            promote(settings, MODEL, ref.version)
    return project


def log_traffic(
    project: TaskProject, version: str, requests: int, *, seed: int, start: float | None = None
) -> None:
    """``requests`` logged answers of ``version`` on fresh rows, each with its feedback."""
    from onepipe.monitor.protocol import PredictionRecord
    from onepipe.monitor.store import open_store

    settings = project.settings()
    live = population(project.task).iloc[HOLDOUT.stop :]
    fresh = live.sample(requests * ROWS_PER_REQUEST, random_state=seed)
    model = project.models[version]
    start = time.time() - 600 if start is None else start
    records, truths = [], {}
    answers_all, truths_all = project.logged.setdefault(version, ([], []))
    for i in range(requests):
        chunk = fresh.iloc[i * ROWS_PER_REQUEST : (i + 1) * ROWS_PER_REQUEST]
        x = chunk.drop(columns=[LABEL])
        answers = [a.item() for a in np.asarray(model.predict(x))]
        truth = [t.item() for t in chunk[LABEL].to_numpy()]
        rid = uuid.uuid4().hex
        records.append(
            PredictionRecord(
                request_id=rid,
                time=start + i,
                model_name=settings.model_name,
                model_version=version,
                model_alias="champion" if version == "1" else "challenger",
                latency_ms=3.0 + (i % 5),
                n_rows=len(chunk),
                inputs={c: x[c].tolist() for c in x.columns},
                outputs=answers,
            )
        )
        truths[rid] = truth
        answers_all.extend(answers)
        truths_all.extend(truth)
    store = open_store(settings)
    try:
        store.write_batch(records)
        for rid, truth in truths.items():
            assert store.add_feedback(rid, truth)
    finally:
        store.close()
