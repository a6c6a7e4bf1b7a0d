"""Retraining on the same data, params and code registers nothing new; a real change does."""

from __future__ import annotations

import json
import shutil

import pytest
from onepipe_testkit import FAST, copy_project, git_init

from onepipe.config import load_settings
from onepipe.pipeline.execute import run_pipeline

FAST_ARGS = [a for p in FAST for a in ("-p", p)]


@pytest.fixture
def fresh(tmp_path):
    """A committed project with one data batch and nothing trained yet."""
    from onepipe.data import open_store

    root = copy_project(tmp_path / "proj")
    git_init(root)
    settings = load_settings(root / "onepipe.yaml", overrides=FAST, user="tester")
    open_store(settings).put("loans", [root / "data/loans/batch_1.csv"], message="batch 1")
    return root, settings


def _versions(settings) -> list[str]:
    from onepipe.tracking.client import client_for

    found = client_for(settings).search_model_versions(f"name='{settings.model_name}'")
    return sorted(str(v.version) for v in found)


@pytest.mark.slow
def test_retraining_without_the_cache_reuses_the_registered_version(fresh, cli):
    root, settings = fresh
    first = run_pipeline(settings, command="pytest first run")
    assert first.model_is_new and first.model_version == "1"

    again = cli("run", *FAST_ARGS, "--no-cache", "--json", cwd=root)
    assert again.code == 0, again.err
    data = json.loads(again.out)
    assert data["executed"] == 5
    assert data["model_version"] == "1" and data["model_is_new"] is False

    # The step cache wiped: the model is saved afresh (new files, new timestamps and ids).
    shutil.rmtree(settings.path(settings.pipeline.cache_dir))
    wiped = cli("run", *FAST_ARGS, cwd=root)
    assert wiped.code == 0, wiped.err
    assert "5 of 5 steps executed" in wiped.err
    assert "reused version 1" in " ".join(wiped.err.split())
    assert _versions(settings) == ["1"]


@pytest.mark.slow
def test_other_params_register_a_new_version(fresh):
    root, settings = fresh
    first = run_pipeline(settings, command="pytest first run")
    other = run_pipeline(
        load_settings(root / "onepipe.yaml", overrides=[*FAST, "max_depth=3"], user="tester"),
        command="pytest other params",
    )
    assert other.model_is_new and other.model_version == "2"
    assert first.model_version == "1" and _versions(settings) == ["1", "2"]
