"""Lineage round trip, promote, and reproduce against the real MLflow store the run wrote."""

from __future__ import annotations

import json
import subprocess

import pytest
from onepipe_testkit import make_trained, run_onepipe

from onepipe.errors import NotFoundError, UsageError
from onepipe.tracking.lineage import lineage
from onepipe.tracking.registry import resolve_model


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """This module promotes, puts a batch and edits files: a trained project of its own."""
    return make_trained(tmp_path_factory.mktemp("trained-lineage"))


def test_lineage_links_model_run_steps_data_git_and_config(trained):
    settings = trained.settings()
    info = lineage(settings, "credit-risk/1")
    assert info["model"]["version"] == "1"
    assert info["run"]["id"] == trained.result.run_id
    assert [s["name"] for s in info["steps"]] == [
        "ingest",
        "validate",
        "featurize",
        "train",
        "evaluate",
    ]
    assert info["data"] == [trained.data_ref]
    assert info["git"]["commit"] == trained.git_commit
    assert info["config"]["hash"] == settings.config_hash
    assert info["config"]["content"]["config"]["pipeline"]["params"]["n_estimators"] == 15
    assert info["run"]["params"]["data_ref"] == trained.data_ref
    assert info["run"]["metrics"]["roc_auc"] == trained.result.metrics["roc_auc"]
    assert {"mlflow", "kfp", "scikit-learn"} <= set(info["packages"])


def test_lineage_cli_json_and_tree(trained, cli):
    res = cli("lineage", "credit-risk/1", "--json", cwd=trained.root)
    assert res.code == 0, res.err
    data = json.loads(res.out)
    assert data["git"]["commit"] == trained.git_commit and data["data"] == [trained.data_ref]
    tree = cli("lineage", "credit-risk/1", cwd=trained.root)
    assert tree.code == 0 and "featurize" in tree.out and trained.git_commit in tree.out


def test_promote_moves_champion_and_aliases_resolve(trained, cli):
    res = cli("promote", "--version", "1", cwd=trained.root)
    assert res.code == 0, res.err
    assert resolve_model(trained.settings(), "credit-risk@champion").version == "1"
    assert resolve_model(trained.settings(), "credit-risk").version == "1"  # bare name = champion


@pytest.mark.parametrize(
    ("spec", "error", "text"),
    [
        (
            "credit-rsk@champion",
            NotFoundError,
            "model 'credit-rsk' is not registered (did you mean: credit-risk?)",
        ),
        ("credit-risk@golden", NotFoundError, "has no alias 'golden'"),
        ("credit-risk/99", NotFoundError, "has no version 99"),
        ("credit risk@@x", UsageError, "expected NAME, NAME@ALIAS or NAME/VERSION"),
    ],
)
def test_unknown_models_get_a_clear_error(trained, spec, error, text):
    with pytest.raises(
        error, match=text.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    ):
        resolve_model(trained.settings(), spec)


def test_lineage_of_unknown_model_exits_2_with_one_line(trained, cli):
    res = cli("lineage", "nope@champion", cwd=trained.root)
    assert res.code == 2
    assert res.err.count("\n") == 1 and res.err.startswith("error: model 'nope' is not registered")


@pytest.mark.slow
def test_reproduce_reruns_recorded_config_at_recorded_commit_and_matches_exactly(trained):
    # Move the branch: reproduce must still read the recorded commit, not the new head.
    from onepipe.data import open_store

    open_store(trained.settings()).put("loans", [trained.root / "data/loans/batch_2.csv"])
    res = run_onepipe("reproduce", "credit-risk/1", "--json", cwd=trained.root)
    assert res.code == 0, res.err
    rep = json.loads(res.out)
    assert rep["exact"] is True and rep["differences"] == {}
    assert rep["new_metrics"]["roc_auc"] == trained.result.metrics["roc_auc"]
    assert rep["git"]["differs"] is False


@pytest.mark.slow
def test_reproduce_warns_when_head_moved(trained):
    (trained.root / "NOTES.md").write_text("a change after training\n")
    env = {
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    import os

    for args in (["add", "NOTES.md"], ["commit", "-qm", "notes"]):
        subprocess.run(
            ["git", *args],
            cwd=trained.root,
            check=True,
            capture_output=True,
            env={**os.environ, **env},
        )
    res = run_onepipe("reproduce", "credit-risk/1", cwd=trained.root)
    assert res.code == 0, res.err
    assert "warning: HEAD is" in res.err and trained.git_commit[:12] in res.err
    assert "all 6 metrics match exactly" in res.out
