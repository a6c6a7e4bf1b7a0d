"""A project with a real MLflow registry holding two versions of the credit-risk model.

The template is built once per session (data put + two in-process pipeline runs,
version 1 promoted to champion, version 2 the challenger); each module gets its
own copy (its own registry database and deployment history) with its own ports.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from serve_helpers import RunningGateway, free_port, load, private_copy  # noqa: E402


@pytest.fixture(scope="session")
def template(tmp_path_factory) -> Path:
    from onepipe.data import open_store
    from onepipe.pipeline.execute import run_pipeline
    from onepipe.tracking.registry import promote

    root = tmp_path_factory.mktemp("serve-template")
    for part in ("components", "pipelines"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "data").mkdir()
    shutil.copytree(REPO / "data" / "loans", root / "data" / "loans")
    shutil.copy(REPO / "onepipe.yaml", root / "onepipe.yaml")
    settings = load(root)
    open_store(settings).put("loans", [root / "data" / "loans" / "batch_1.csv"], message="batch 1")
    run_pipeline(settings.with_params(n_estimators=5))
    promote(settings, settings.model_name, None)  # v1 champion
    run_pipeline(settings.with_params(n_estimators=8))  # v2 challenger
    return root


@pytest.fixture(scope="module")
def project(template, tmp_path_factory) -> Path:
    """A private copy: own registry DB and history; artifacts are shared read-only."""
    return private_copy(template, tmp_path_factory.mktemp("serve-project"), free_port())


@pytest.fixture(scope="module")
def gateway(project):
    running = RunningGateway(load(project)).start()
    yield running
    running.stop()
