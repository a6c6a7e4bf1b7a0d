"""The chart's project values come from the project's onepipe.yaml: its image, and the live
metric (with its direction and threshold) the alert rule and the dashboard panel watch.
Rendered and linted with Helm's own engine (helm-python-sdk, in-process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from onepipe.config.loader import deep_merge  # helm merges -f files the same way

helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "src" / "onepipe" / "k8s" / "chart"

CHURN = """\
project: churn
image: {training: "registry.example:5000/team/churn-train:2.1"}
model: {name: churn, task: regression, metrics: [mae, rmse]}
monitor: {alert: {threshold: 12.5, for: 1h}}
"""


def _project(tmp_path: Path, text: str) -> Path:
    (tmp_path / "onepipe.yaml").write_text(text)
    return tmp_path / "onepipe.yaml"


def _install_values(config: Path, env: str) -> dict:
    """The chart's preset plus the project's values file, as `helm -f A -f B` takes them."""
    from onepipe.config import load_settings
    from onepipe.k8s.helm import values_text

    project = yaml.safe_load(values_text(load_settings(config, env=env)))
    preset = yaml.safe_load((CHART / f"values-{env}.yaml").read_text())
    return deep_merge(preset, project)


def _render(values: dict, chart: Path = CHART) -> list[dict]:
    c = helm.Chart.load(str(chart))
    try:
        out = c.render(values=values, name="onepipe", namespace="onepipe-prod", is_install=True)
    finally:
        c.close()
    return [
        d
        for path, text in sorted(out.items())
        if not path.endswith("NOTES.txt")
        for d in yaml.safe_load_all(text)
        if d
    ]


def _live_rule(docs: list[dict]) -> dict | None:
    (rule,) = [d for d in docs if d["kind"] == "PrometheusRule"]
    found = [r for g in rule["spec"]["groups"] for r in g["rules"] if "live_metric" in r["expr"]]
    return found[0] if found else None


def _live_panel(docs: list[dict]) -> dict:
    (cm,) = [d for d in docs if d["kind"] == "ConfigMap" and "dashboard" in d["metadata"]["name"]]
    panels = json.loads(cm["data"]["onepipe.json"])["panels"]
    (panel,) = [p for p in panels if "onepipe_live_metric" in p["targets"][0]["expr"]]
    return panel


def _images(docs: list[dict]) -> set[str]:
    out = set()
    for d in docs:
        spec = d.get("spec", {})
        pod = spec.get("jobTemplate", {}).get("spec", {}).get("template") or spec.get("template")
        if pod:
            out |= {c["image"] for c in pod["spec"]["containers"]}
    return out


def test_this_project_alerts_on_live_accuracy_below_its_threshold():
    values = yaml.safe_load((REPO / "manifests/overlays/prod/helm-values.yaml").read_text())
    docs = _render(deep_merge(yaml.safe_load((CHART / "values-prod.yaml").read_text()), values))
    rule = _live_rule(docs)
    assert rule["alert"] == "OnepipeLiveQualityLow"
    assert rule["expr"] == (
        'min by (model_version) (onepipe_live_metric{namespace="onepipe-prod", '
        'metric="accuracy"}) < 0.75'
    )
    assert rule["for"] == "30m"
    panel = _live_panel(docs)
    assert 'metric="accuracy"' in panel["targets"][0]["expr"]
    assert "higher is better" in panel["title"]
    assert _images(docs) == {"ghcr.io/onepipe/credit-risk-train:0.1.0"}
    rendered = json.dumps(docs)
    assert "roc_auc" not in rendered and "RocAuc" not in rendered


def test_a_regression_project_alerts_when_its_error_rises(tmp_path):
    config = _project(tmp_path, CHURN)
    values = _install_values(config, "prod")
    assert values["liveQuality"] == {
        "metric": "mae",  # the first declared metric the monitor computes live
        "direction": "minimize",
        "threshold": 12.5,
        "for": "1h",
    }
    report = helm.lint(str(CHART), values, strict=True, namespace="onepipe-prod")
    assert not report["errors"] and all(m["severity"] < 2 for m in report["messages"]), report
    docs = _render(values)
    rule = _live_rule(docs)
    assert rule["expr"].startswith("max by (model_version) (onepipe_live_metric{")
    assert rule["expr"].endswith('metric="mae"}) > 12.5') and rule["for"] == "1h"
    assert "above 12.5" in rule["annotations"]["description"]
    assert "lower is better" in _live_panel(docs)["title"]
    assert _images(docs) == {"registry.example:5000/team/churn-train:2.1"}


def test_a_digest_pins_the_image(tmp_path):
    digest = "sha256:" + "ab" * 32
    config = _project(
        tmp_path,
        CHURN.replace('churn-train:2.1"}', f'churn-train:2.1", training_digest: "{digest}"}}'),
    )
    docs = _render(_install_values(config, "dev"))
    assert _images(docs) == {f"registry.example:5000/team/churn-train@{digest}"}


def test_no_threshold_no_rule_and_the_values_say_so(tmp_path):
    from onepipe.config import load_settings
    from onepipe.k8s.helm import values_text

    config = _project(tmp_path, CHURN.replace("threshold: 12.5, ", ""))
    text = values_text(load_settings(config, env="prod"))
    (line,) = [ln for ln in text.splitlines() if ln.strip().startswith("threshold:")]
    assert "the alert rule is not rendered" in line
    docs = _render(_install_values(config, "prod"))
    assert _live_rule(docs) is None
    assert 'metric="mae"' in _live_panel(docs)["targets"][0]["expr"]


def test_without_a_task_the_panel_plots_every_live_metric(tmp_path):
    from onepipe.config import load_settings
    from onepipe.k8s.helm import values_text

    config = _project(tmp_path, "project: p\nmodel: {name: p}\n")
    text = values_text(load_settings(config, env="prod"))
    assert "declare model.task" in text
    docs = _render(_install_values(config, "prod"))
    assert _live_rule(docs) is None
    panel = _live_panel(docs)
    assert panel["targets"][0]["expr"] == 'onepipe_live_metric{namespace="$namespace"}'
    assert panel["targets"][0]["legendFormat"] == "{{metric}} v{{model_version}}"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            "project: p\nmodel: {name: p}\nmonitor: {alert: {threshold: 0.8}}\n",
            "monitor.alert.threshold is set but there is no live metric: declare model.task",
        ),
        (
            "project: p\nmodel: {name: p, task: binary}\nmonitor: {alert: {metric: rmse}}\n",
            "monitor.alert.metric: 'rmse' is not computed live for a binary model "
            "(expected one of: accuracy, precision, recall, f1)",
        ),
        (
            "project: p\nmodel: {name: p, task: binary}\nmonitor: {alert: {metric: roc_auc}}\n",
            "monitor.alert.metric: expected a metric the monitor computes live",
        ),
    ],
)
def test_an_alert_the_monitor_cannot_feed_is_one_line_error(cli, tmp_path, config, message):
    _project(tmp_path, config)
    res = cli("render", "chart", "--env", "prod", "-o", str(tmp_path / "out"), cwd=tmp_path)
    assert res.code == 2
    (line,) = res.err.strip().splitlines()
    assert line.startswith("error: ") and message in line, res.err
    assert not (tmp_path / "out").exists()  # nothing written


def test_the_chart_schema_refuses_a_threshold_without_a_metric():
    from onepipe.k8s.helm import validate_values
    from onepipe.k8s.schema import SchemaError

    values = _install_values(REPO / "onepipe.yaml", "prod")
    values["liveQuality"]["metric"] = ""
    with pytest.raises(helm.HelmValuesError, match="/liveQuality/metric"):
        _render(values)
    defaults = yaml.safe_load((CHART / "values.yaml").read_text())
    with pytest.raises(SchemaError, match="at '/liveQuality/metric'"):
        validate_values(deep_merge(defaults, values), "test")


def test_render_chart_writes_a_chart_installable_with_one_values_file(cli, tmp_path):
    proj = tmp_path / "churn"
    proj.mkdir()
    _project(proj, CHURN)
    res = cli("render", "chart", "--env", "prod", "--env", "dev", cwd=proj)
    assert res.code == 0, res.err
    out = proj / "charts" / "onepipe"
    assert (out / "Chart.yaml").exists() and (out / "templates/prometheusrule.yaml").exists()
    assert "-n default -f charts/onepipe/values-prod.yaml" in res.err
    values = yaml.safe_load((out / "values-prod.yaml").read_text())
    assert values["monitor"]["replicas"] == 2  # the chart's prod preset is kept
    report = helm.lint(str(out), values, strict=True, namespace="onepipe-prod")
    assert not report["errors"] and all(m["severity"] < 2 for m in report["messages"]), report
    docs = _render(values, out)
    assert _live_rule(docs)["expr"].endswith('metric="mae"}) > 12.5')
    assert _images(docs) == {"registry.example:5000/team/churn-train:2.1"}
    # values-test.yaml was not asked for: the preset as shipped
    assert (out / "values-test.yaml").read_text() == (CHART / "values-test.yaml").read_text()


def test_up_prints_the_installed_chart_and_the_projects_values(cli, tmp_path, monkeypatch):
    res = cli("up", "--env", "acc", "--dry-run", cwd=REPO)
    assert res.code == 0, res.err
    words = res.err.split()
    chart = Path(words[words.index("--install") + 2])
    assert (chart / "Chart.yaml").exists() and (chart / "values-acc.yaml").exists()
    assert "manifests/overlays/acc/helm-values.yaml" in res.err and "first" not in res.err

    proj = tmp_path / "p"
    shutil.copytree(REPO / "manifests", proj / "manifests")
    shutil.copy(REPO / "onepipe.yaml", proj / "onepipe.yaml")
    text = (proj / "onepipe.yaml").read_text().replace("threshold: 0.75", "threshold: 0.8")
    (proj / "onepipe.yaml").write_text(text)
    stale = cli("up", "--env", "acc", "--dry-run", cwd=proj)
    assert stale.code == 0, stale.err
    assert "is not current: run `onepipe render overlays` first" in stale.err
