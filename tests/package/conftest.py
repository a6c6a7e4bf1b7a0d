"""Session fixtures: the wheel built from the checkout, and fresh virtualenvs outside the
repository with it installed (package_env.py says how). Tests using them are slow: mark them.

    def test_something(onepipe_venv, tmp_path):
        res = onepipe_venv.run("onepipe", "--version", cwd=tmp_path)
"""

from __future__ import annotations

from pathlib import Path

import pytest
from package_env import Venv, build_wheel, make_venv

# What `pip install "onepipe[...]"` users are told to install for a cluster and a team.
ALL_EXTRAS = {"all"}


@pytest.fixture(scope="session")
def onepipe_wheel(tmp_path_factory) -> Path:
    """The wheel of the checkout (``uv build --wheel``), built once per session."""
    return build_wheel(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="session")
def onepipe_venv(onepipe_wheel, tmp_path_factory) -> Venv:
    """A fresh venv with ``onepipe[all]`` from the wheel; ``.run(...)``, ``.bin``, ``.env``."""
    return make_venv(tmp_path_factory.mktemp("venvs") / "all", onepipe_wheel, ALL_EXTRAS)


@pytest.fixture(scope="session")
def onepipe_core_venv(onepipe_wheel, tmp_path_factory) -> Venv:
    """A fresh venv with plain ``onepipe`` (no extras) from the wheel."""
    return make_venv(tmp_path_factory.mktemp("venvs") / "core", onepipe_wheel, set())
