"""A project with a real MLflow registry holding two versions of the credit-risk model.

The template (tests/conftest.py) is built once per session; each module gets its own
copy (its own registry database and deployment history) with its own ports.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from serve_helpers import RunningGateway, free_port, load, private_copy  # noqa: E402


@pytest.fixture(scope="module")
def project(template, tmp_path_factory) -> Path:
    """A private copy: own registry DB and history; artifacts are shared read-only."""
    return private_copy(template, tmp_path_factory.mktemp("serve-project"), free_port())


@pytest.fixture(scope="module")
def gateway(project):
    running = RunningGateway(load(project)).start()
    yield running
    running.stop()
