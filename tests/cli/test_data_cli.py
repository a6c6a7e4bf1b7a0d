"""`onepipe data ...` end to end: happy paths, and bad input as one clear line with exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from onepipe.cli.main import main

PROJECT = "project: t\nmodel: {name: m}\n"


class Result:
    def __init__(self, code: int, stdout: bytes, stderr: bytes) -> None:
        self.code, self.stdout_bytes = code, stdout
        self.stdout, self.stderr = stdout.decode(), stderr.decode()

    def json(self):
        return json.loads(self.stdout)


def run(*args: str | Path) -> Result:
    with CliRunner().isolation() as (stdout, stderr, _):
        code = main(["data", *map(str, args)])
        sys.stdout.flush()  # the isolated streams are buffered text wrappers over these bytes
        sys.stderr.flush()
        return Result(code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "onepipe.yaml").write_text(PROJECT)
    monkeypatch.chdir(tmp_path)
    for var in ("ONEPIPE_CONFIG", "ONEPIPE_ENV"):
        monkeypatch.delenv(var, raising=False)
    batch = tmp_path / "batch1"
    batch.mkdir()
    (batch / "loans.csv").write_text("id,amount\n1,100\n")
    (batch / "notes.txt").write_text("january")
    return tmp_path


def assert_one_line_error(result: Result, *fragments: str) -> None:
    assert result.code == 2, (result.code, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])


def test_put_log_ls_get_diff_round_trip(project: Path):
    first = run("put", "loans", "batch1", "-m", "january", "--json")
    assert first.code == 0, first.stderr
    c1 = first.json()
    assert c1["repo"] == "loans" and c1["branch"] == "master" and c1["message"] == "january"
    assert [f["path"] for f in c1["files"]] == ["loans.csv", "notes.txt"]
    assert (project / ".onepipe" / "data" / "commits" / f"{c1['id']}.json").is_file()

    (project / "feb.csv").write_text("id,amount\n2,200\n")
    second = run("put", "loans", "feb.csv", "-m", "february")
    assert second.code == 0 and "loans@" in second.stdout and "1 added" in second.stdout

    log = run("log", "loans", "--json").json()
    assert [c["message"] for c in log] == ["february", "january"]
    assert log[0]["parent"] == c1["id"]
    assert [c["message"] for c in run("log", "loans", "-n", "1", "--json").json()] == ["february"]
    assert "january" in run("log", "loans").stdout

    listing = run("ls", f"loans@{c1['id'][:8]}", "--json").json()
    assert [f["path"] for f in listing["files"]] == ["loans.csv", "notes.txt"]
    assert "notes.txt" in run("ls", "loans@master").stdout

    got = run("get", "loans@master", "feb.csv")
    assert got.code == 0 and got.stdout_bytes == b"id,amount\n2,200\n"
    exported = run("get", "loans", "-o", "out")
    assert exported.code == 0 and "wrote 3 files" in exported.stderr
    assert (project / "out" / "notes.txt").read_text() == "january"
    assert run("get", "loans").code == 0 and (project / "loans" / "feb.csv").is_file()

    diff = run("diff", f"loans@{c1['id'][:8]}", "loans", "--json").json()
    assert diff["added"] == ["feb.csv"] and diff["removed"] == [] and diff["modified"] == []
    assert run("diff", f"loans@{c1['id'][:8]}", "loans").stdout.strip() == "+ feb.csv"


def test_branch_repos_and_verify(project: Path):
    assert run("put", "loans", "batch1").code == 0
    created = run("branch", "loans", "exp")
    assert created.code == 0 and "created loans@exp" in created.stderr
    (project / "extra.csv").write_text("x\n")
    assert run("put", "loans", "extra.csv", "-b", "exp", "--replace").code == 0
    heads = run("branch", "loans", "--json").json()
    assert set(heads) == {"exp", "master"} and heads["exp"] != heads["master"]
    assert "exp" in run("branch", "loans").stdout

    repos = run("repos", "--json").json()
    assert [r["repo"] for r in repos] == ["loans"] and set(repos[0]["branches"]) == {
        "exp",
        "master",
    }
    ok = run("verify", "--json")
    assert ok.code == 0 and ok.json() == {"ok": True, "problems": []}

    objects = project / ".onepipe" / "data" / "objects"
    next(p for p in objects.rglob("*") if p.is_file()).write_bytes(b"bit rot")
    bad = run("verify")
    assert bad.code == 1 and "corrupt" in bad.stdout
    assert bad.stderr.strip() == "error: 1 problem(s) found in the data store (listed on stdout)"


def test_missing_path_is_one_line_and_writes_nothing(project: Path):
    result = run("put", "loans", "batch1", "nope.csv")
    assert_one_line_error(result, "nope.csv", "no such file or directory", "expected")
    assert not (project / ".onepipe" / "data" / "repos" / "loans").exists()
    assert run("repos", "--json").json() == []


def test_unknown_ref_names_the_closest(project: Path):
    assert run("put", "loans", "batch1").code == 0
    assert_one_line_error(
        run("log", "loans@mastr"), "unknown ref 'loans@mastr'", "did you mean: master"
    )
    assert_one_line_error(run("ls", "lons"), "unknown repo 'lons'", "did you mean: loans")
    assert_one_line_error(run("get", "loans", "nope.csv"), "no file 'nope.csv'")


def test_bad_names_and_bad_refs(project: Path):
    assert_one_line_error(run("put", "bad/name", "batch1"), "bad repo name 'bad/name'", "expected")
    assert_one_line_error(run("put", "loans", "batch1", "-b", "-dev"), "bad branch name")
    assert_one_line_error(run("ls", "loans@"), "bad ref 'loans@'", "REPO@BRANCH")
    assert_one_line_error(run("put", "loans"), "nothing to put", "expected one or more files")
    assert run("put", "loans", "batch1").code == 0
    assert_one_line_error(run("branch", "loans", "master"), "already exists")
    assert_one_line_error(run("log", "loans", "-n", "0"), "--limit")


def test_cluster_environment_without_its_backend_is_a_config_error(project: Path):
    (project / "onepipe.yaml").write_text(
        PROJECT + "environments:\n  acc: {backends: {data: pachyderm}}\n"
    )
    assert_one_line_error(run("repos", "--env", "acc"), "backends.data", "pachyderm")


def test_python_m_onepipe_data_runs_without_a_traceback(project: Path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONEPIPE_")}
    done = subprocess.run(
        [sys.executable, "-m", "onepipe", "data", "ls", "loans@nope"],
        capture_output=True,
        text=True,
        cwd=project,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error: unknown repo 'loans'")
