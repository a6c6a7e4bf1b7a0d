"""Shared fixtures: throwaway copies of the example project, and the CLI run in-process."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from onepipe_testkit import FAST, CliResult, copy_project, git_init


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

        return load_settings(
            self.root / "onepipe.yaml", overrides=[*FAST, *overrides], env=env, user="tester"
        )


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
