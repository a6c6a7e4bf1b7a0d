"""Every report judges a model by its own task: regression, binary and multiclass.

``onepipe monitor``, ``/metrics``, ``onepipe report`` and ``onepipe models`` on
projects with real registered scikit-learn models of each task and their logged
answers with feedback (``task_model_projects``); the expected live metrics are
computed here with scikit-learn, not with onepipe's own implementations.
"""

from __future__ import annotations

import json
import math
import re
import time

import pytest
from task_model_projects import log_traffic, make_project

from onepipe.quality.metrics import LIVE

TASKS = ("regression", "binary", "multiclass")
# binary declares its task and metrics (the primary, roc_auc, is not live: f1 is watched);
# regression and multiclass declare nothing: each version's recorded task decides.
DECLARED = {
    "binary": {"task": "binary", "label": "target", "metrics": ["roc_auc", "f1", "accuracy"]}
}
PROJECT_METRICS = {
    "regression": [("rmse", "minimize"), ("mae", "minimize"), ("r2", "maximize")],
    "binary": [("roc_auc", "maximize"), ("f1", "maximize"), ("accuracy", "maximize")],
    "multiclass": [("accuracy", "maximize"), ("f1_macro", "maximize"), ("log_loss", "minimize")],
}
WATCHED = {
    "regression": {"name": "rmse", "direction": "minimize"},
    "binary": {"name": "f1", "direction": "maximize"},
    "multiclass": {"name": "accuracy", "direction": "maximize"},
}
REQUESTS = {"1": 60, "2": 40}


def expected_live(task: str, answers: list, truths: list) -> dict[str, float]:
    from sklearn import metrics as m

    if task == "regression":
        return {
            "rmse": math.sqrt(m.mean_squared_error(truths, answers)),
            "mae": m.mean_absolute_error(truths, answers),
            "r2": m.r2_score(truths, answers),
        }
    out = {"accuracy": m.accuracy_score(truths, answers)}
    if task == "binary":
        out.update(
            precision=m.precision_score(truths, answers, zero_division=0),
            recall=m.recall_score(truths, answers, zero_division=0),
            f1=m.f1_score(truths, answers, zero_division=0),
        )
    else:
        out["f1_macro"] = m.f1_score(truths, answers, average="macro", zero_division=0)
    return out


@pytest.fixture(scope="module", params=TASKS)
def own(request, tmp_path_factory):
    task = request.param
    project = make_project(tmp_path_factory.mktemp(task) / "proj", task, model=DECLARED.get(task))
    start = time.time() - 900
    for i, (version, n) in enumerate(REQUESTS.items()):  # v2 joins five minutes after v1
        log_traffic(project, version, n, seed=11 + i, start=start + 300 * i)
    return project


def _check_live(project, version: str, metrics: dict[str, float]) -> None:
    answers, truths = project.logged[version]
    want = expected_live(project.task, answers, truths)
    assert set(metrics) == {"labelled", *LIVE[project.task]}
    assert metrics["labelled"] == len(truths)
    for name, value in want.items():
        assert metrics[name] == pytest.approx(value), name


@pytest.mark.slow
def test_monitor_shows_each_versions_task_metrics(own, cli):
    config = str(own.root / "onepipe.yaml")
    done = cli("monitor", "--json", "--no-drift", "-c", config)
    assert done.code == 0, done.err
    versions = {v["version"]: v for v in json.loads(done.out)["versions"]}
    assert set(versions) == set(REQUESTS)
    for version, v in versions.items():
        assert v["task"] == own.task
        _check_live(own, version, v["metrics"])
    shown = cli("monitor", "--no-drift", "-c", config)
    assert shown.code == 0, shown.err
    for name in LIVE[own.task]:
        assert name in shown.out
    if own.task == "regression":
        assert "accuracy" not in shown.out


@pytest.mark.slow
def test_metrics_exposition_names_the_tasks_live_metrics(own):
    from prometheus_client.parser import text_string_to_metric_families

    from onepipe.monitor.metrics import LiveMetrics
    from onepipe.monitor.store import open_store

    settings = own.settings()
    store = open_store(settings)
    try:
        live = LiveMetrics(settings, store)
        live.refresh(force=True)
        text = live.exposition().decode()
    finally:
        store.close()
    found: dict[str, dict[str, float]] = {}
    for family in text_string_to_metric_families(text):
        if family.name == "onepipe_live_metric":
            for sample in family.samples:
                labels = sample.labels
                found.setdefault(labels["model_version"], {})[labels["metric"]] = sample.value
    assert set(found) == set(REQUESTS)
    for version, metrics in found.items():
        quality = {k: v for k, v in metrics.items() if k in LIVE[own.task] or k == "labelled"}
        _check_live(own, version, quality)
        assert metrics["requests"] == REQUESTS[version]
        others = {n for t, names in LIVE.items() if t != own.task for n in names}
        assert not (set(metrics) & others - set(LIVE[own.task])), metrics
    if own.task == "regression":
        assert re.search(r'onepipe_live_metric\{[^}]*metric="rmse"[^}]*\}', text)
        assert 'metric="accuracy"' not in text


@pytest.mark.slow
def test_report_judges_by_the_task(own, tmp_path):
    from onepipe.monitor.html_report import collect, render, write_report
    from onepipe.tracking.client import client_for

    settings = own.settings()
    since = time.time() - 3600
    data = collect(settings, since)
    assert data["task"] == own.task
    assert data["tasks"] == {"1": own.task, "2": own.task}
    names = PROJECT_METRICS[own.task]
    assert [(m["name"], m["direction"]) for m in data["metrics"]] == names
    assert data["quality_metric"] == WATCHED[own.task]
    assert data["labelled"] == sum(len(own.logged[v][1]) for v in REQUESTS)
    watched = WATCHED[own.task]["name"]
    for version in REQUESTS:
        _check_live(own, version, data["live"][version]["metrics"])
        points = data["series"]["versions"][version]
        assert sum(p["labelled"] for p in points) == len(own.logged[version][1])
        assert all(p["quality"] == p["metrics"][watched] for p in points if p["labelled"])
        assert any(p["quality"] is not None for p in points)
    client = client_for(settings)
    for row in data["lineage"]:
        assert "error" not in row, row
        # the project's metrics in its order, as the version's run logged them
        logged = client.get_run(row["run_id"]).data.metrics
        assert row["metrics"] == {n: round(logged[n], 4) for n, _ in names}
    html, plots = render(data)
    assert f'alt="live {watched} per version over time"' in html
    assert "No feedback in the window" not in html
    assert f"task <b>{own.task}</b>" in html
    assert plots >= 2  # quality and latency (no drift profile: no drift plots)
    path, summary = write_report(settings, tmp_path / "report.html", since=since)
    assert summary["task"] == own.task and summary["quality_metric"] == watched
    assert summary["metrics"] == [n for n, _ in names]


@pytest.mark.slow
def test_models_lists_the_projects_metrics_and_aliases(own, cli):
    config = str(own.root / "onepipe.yaml")
    done = cli("models", "--json", "-c", config)
    assert done.code == 0, done.err
    body = json.loads(done.out)
    names = PROJECT_METRICS[own.task]
    assert body["task"] == own.task
    assert [(m["name"], m["direction"]) for m in body["metrics"]] == names
    versions = {v["version"]: v for v in body["versions"]}
    assert versions["1"]["aliases"] == ["champion"]
    assert versions["2"]["aliases"] == ["challenger"]
    for v in versions.values():
        assert v["task"] == own.task and v["run_id"]
        assert names[0][0] in v["metrics"]
    table = cli("models", "-c", config)
    assert table.code == 0, table.err
    header = re.findall(r"[a-z0-9_]+", table.out.splitlines()[0])
    assert header == ["version", "aliases", "task", "run", *(n for n, _ in names)]
    assert "champion" in table.out and "challenger" in table.out


# ---- the example project (credit-risk, a binary classifier trained by the pipeline) -----


@pytest.mark.slow
def test_registered_versions_carry_the_models_task_and_label(project):
    from serve_helpers import load

    from onepipe.tracking.client import client_for

    settings = load(project)
    client = client_for(settings)
    for version in ("1", "2"):
        tags = client.get_model_version(settings.model_name, version).tags
        assert tags["onepipe.task"] == "binary" and tags["onepipe.label"] == "default"


@pytest.mark.slow
def test_models_shows_the_aliases_after_run_and_promote(project, cli):
    # the template ran the pipeline twice and promoted version 1
    done = cli("models", "--json", "-c", str(project / "onepipe.yaml"))
    assert done.code == 0, done.err
    body = json.loads(done.out)
    versions = {v["version"]: v for v in body["versions"]}
    assert versions["1"]["aliases"] == ["champion"]
    assert versions["2"]["aliases"] == ["challenger"]
    assert [m["name"] for m in body["metrics"]] == ["roc_auc", "accuracy", "f1", "log_loss"]
    assert body["task"] == "binary" and versions["1"]["task"] == "binary"
    assert 0.5 < versions["1"]["metrics"]["roc_auc"] <= 1.0


# ---- units ---------------------------------------------------------------------------


def _row(version: str, answers: list, truths: list) -> dict:
    return {
        "model_name": "m",
        "model_version": version,
        "model_alias": "",
        "status": 200,
        "latency_ms": 4.0,
        "n_rows": len(answers),
        "outputs": answers,
        "truth": truths,
        "time": 0.0,
    }


def test_version_stats_judges_each_version_by_its_task():
    from onepipe.monitor.windows import version_stats

    # whole numbers a regression model answered (items sold, say): rmse, never accuracy
    rows = [_row("1", [3.0, 5.0, 7.0], [4.0, 5.0, 9.0]), _row("2", [1, 2, 2], [1, 2, 0])]
    tasks = {"1": "regression", "2": "multiclass"}
    for given in (tasks, tasks.get):  # a mapping or a callable
        stats = version_stats(rows, tasks=given)
        assert stats["1"].task == "regression" and stats["2"].task == "multiclass"
        assert stats["1"].metrics["rmse"] == pytest.approx(math.sqrt(5 / 3))
        assert stats["1"].metrics["mae"] == pytest.approx(1.0)
        assert set(stats["1"].metrics) == {"labelled", "rmse", "mae", "r2"}
        assert set(stats["2"].metrics) == {"labelled", "accuracy", "f1_macro"}
        assert stats["2"].to_dict()["task"] == "multiclass"
    # nothing known: the values decide, and continuous answers are a regression
    guessed = version_stats([_row("3", [0.4, 1.7, 2.2], [0.5, 1.5, 2.5])])["3"]
    assert guessed.task == "regression" and "accuracy" not in guessed.metrics


def test_primary_live_metric_prefers_the_projects_own():
    from onepipe.quality.metrics import MetricSpec, primary_live_metric

    declared = [MetricSpec("roc_auc", "maximize"), MetricSpec("f1", "maximize")]
    assert primary_live_metric("binary", declared) == MetricSpec("f1", "maximize")
    assert primary_live_metric("binary", []).name == "accuracy"
    assert primary_live_metric("multiclass", declared).name == "accuracy"  # f1 is binary only
    assert primary_live_metric("regression", [MetricSpec("mae", "minimize")]).name == "mae"
    assert primary_live_metric("regression", []) == MetricSpec("rmse", "minimize")
    assert primary_live_metric(None, declared) is None


def test_live_metric_names_are_documented():
    """The names are a contract (alert rules, dashboards): metrics.py and the metrics table
    of docs/monitoring.md list them."""
    from pathlib import Path

    from onepipe.monitor import metrics

    page = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith("| `onepipe_live_metric`"))
    for task, names in LIVE.items():
        for name in names:
            assert f"``{name}``" in metrics.__doc__, (task, name)
            assert f"`{name}`" in row, (task, name)
