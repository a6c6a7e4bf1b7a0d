"""Shared fixtures: throwaway copies of the example project, and the CLI run in-process."""

from __future__ import annotations

from pathlib import Path

import pytest
from onepipe_testkit import CliResult, Trained, copy_project, make_trained


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


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Trained:
    """The shared trained project: tests that only read it. A test that moves its branch,
    aliases or files uses a project of its own (``make_trained``), so no order of tests
    sees another's changes."""
    return make_trained(tmp_path_factory.mktemp("trained"))
