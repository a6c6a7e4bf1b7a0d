"""CLI manners: lazy imports, exit codes, one-line errors, --json, config show."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from onepipe_testkit import run_onepipe


def test_help_imports_no_heavy_library():
    code = (
        "import sys; from onepipe.cli.main import app; "
        "heavy = [m for m in ('mlflow', 'kfp', 'sklearn', 'optuna', 'pandas', 'mlserver', 'kubernetes') "
        "if m in sys.modules]; print(','.join(heavy))"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == ""


def test_help_and_version_answer(tmp_path):
    res = run_onepipe("--help", cwd=tmp_path)
    assert res.code == 0 and "run" in res.out and "lineage" in res.out and "data" in res.out
    assert run_onepipe("--version", cwd=tmp_path).out.startswith("onepipe ")


def test_config_show_prints_the_resolved_config(project, cli):
    res = cli("config", "show", "--env", "prod", "--variant", "fast", "-p", "seed=3", "--json")
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["env"] == "prod" and data["variant"] == "fast"
    assert (
        data["pipeline"]["params"]["n_estimators"] == 30 and data["pipeline"]["params"]["seed"] == 3
    )
    assert data["kubernetes"]["namespace"] == "onepipe-prod"
    assert cli("config", "show").out.startswith("project: credit-risk")


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("config", "show", "--env", "staging"), "unknown environment 'staging'"),
        (
            ("run", "-p", "n_estimator=3"),
            "-p n_estimator: unknown param (did you mean: n_estimators?)",
        ),
        (("run", "-p", "seed=x"), "-p seed: expected an integer, found 'x'"),
        (("run", "--bogus"), "No such option: --bogus"),
        (("lineage",), "Missing argument"),
        (("data", "ls", "loans@nope"), "loans"),
    ],
)
def test_bad_input_exits_2_with_one_line(project, cli, args, needle):
    res = cli(*args)
    assert res.code == 2, (res.out, res.err)
    lines = [line for line in res.err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0]


def test_broken_config_file_in_a_real_process_has_no_traceback(tmp_path):
    (tmp_path / "onepipe.yaml").write_text("project: x\nmodel: {name: m}\npipeline: {parms: {}}\n")
    res = run_onepipe("config", "show", cwd=tmp_path)
    assert res.code == 2
    assert res.err.strip() == "error: onepipe.yaml: pipeline.parms: unknown key"
    assert "Traceback" not in res.err


def test_outside_a_project_says_where_it_looked(tmp_path):
    res = run_onepipe("run", cwd=tmp_path)
    assert res.code == 2 and "onepipe.yaml: not found in" in res.err and "Traceback" not in res.err
