"""Shared fixtures: throwaway copies of the example project, and the CLI run in-process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
FAST = ["n_estimators=15", "max_depth=2"]


def copy_project(dest: Path) -> Path:
    """The example project (config, components, pipelines, data batches) under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "onepipe.yaml", dest / "onepipe.yaml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("components", "pipelines", "data"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore, dirs_exist_ok=True)
    return dest


def git_init(root: Path) -> str:
    """Make ``root`` a git checkout with one commit; returns the commit id."""
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.invalid",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.invalid"}
    (root / ".gitignore").write_text(".onepipe/\n__pycache__/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True,
                          text=True).stdout.strip()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys, monkeypatch):
    """Run ``onepipe ARGS`` in-process in a directory; returns exit code, stdout, stderr."""
    from onepipe.cli.main import main

    def run(*args: str, cwd: Path | None = None) -> CliResult:
        if cwd is not None:
            monkeypatch.chdir(cwd)
        capsys.readouterr()
        code = main(list(args))
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def run_onepipe(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None) -> CliResult:
    """``python -m onepipe ARGS`` as a real subprocess (what a user's shell does)."""
    proc = subprocess.run([sys.executable, "-m", "onepipe", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    return CliResult(proc.returncode, proc.stdout, proc.stderr)


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    root = copy_project(tmp_path / "proj")
    monkeypatch.chdir(root)
    return root


@dataclass
class Trained:
    root: Path
    git_commit: str
    data_ref: str
    result: object  # RunResult of the first run

    def settings(self, *overrides: str, env: str | None = None):
        from onepipe.config import load_settings

        return load_settings(self.root / "onepipe.yaml", overrides=[*FAST, *overrides], env=env,
                             user="tester")


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    """One project, committed to git, with batch 1 put and the pipeline run once (fast params)."""
    from onepipe.config import load_settings
    from onepipe.data import open_store
    from onepipe.pipeline.execute import run_pipeline

    root = copy_project(tmp_path_factory.mktemp("trained") / "proj")
    commit = git_init(root)
    settings = load_settings(root / "onepipe.yaml", overrides=FAST, user="tester")
    data = open_store(settings).put("loans", [root / "data/loans/batch_1.csv"], message="batch 1")
    result = run_pipeline(settings, command="pytest trained fixture")
    return Trained(root, commit, data.ref, result)
