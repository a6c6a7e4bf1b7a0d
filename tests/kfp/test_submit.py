"""`onepipe submit` / `onepipe runs` through the real kfp.Client against the kmock KFP emulator.

Prod's data backend is Pachyderm: the store is PachydermDataStore on the in-memory PFS
stand-in (no pachd here), so data_ref is pinned to a Pachyderm commit id.
"""

from __future__ import annotations

import json

import pytest
import yaml
from in_memory_pfs import InMemoryPachyderm
from onepipe_testkit import copy_project, git_init

from onepipe.config import load_settings
from onepipe.data.pachyderm.store import PachydermDataStore

DIGEST = "sha256:" + "ab" * 32


@pytest.fixture(scope="module")
def kfp_project(tmp_path_factory):
    root = copy_project(tmp_path_factory.mktemp("kfp") / "proj")
    git_init(root)
    return root


@pytest.fixture
def pachyderm(monkeypatch, kfp_project):
    """Every Pachyderm store the code opens is one in-memory PFS holding batch 1 of loans."""
    store = PachydermDataStore(client=InMemoryPachyderm())
    commit = store.put("loans", [kfp_project / "data/loans/batch_1.csv"], message="batch 1")
    monkeypatch.setattr(PachydermDataStore, "connect", classmethod(lambda cls, *a, **k: store))
    return commit


def _args(emulator, *extra: str) -> list[str]:
    return [
        "--env", "prod",
        "-p", f"kfp.host={emulator.url}",
        # prod's tracking server is a cluster address: record the run in a local store instead
        "-p", "tracking.uri=sqlite:///.onepipe/mlflow-kfp.db",
        "-p", "kfp.poll_interval_s=0.01",
        "-p", f"image.training_digest={DIGEST}",
        *extra,
    ]  # fmt: skip


def test_submit_uploads_pinned_ir_runs_in_user_experiment_and_follows(
    kfp_project, kfp_emulator, pachyderm, cli, monkeypatch
):
    monkeypatch.setenv("ONEPIPE_USER", "alice")
    res = cli("submit", *_args(kfp_emulator, "-V", "fast"), "--json", cwd=kfp_project)
    assert res.code == 0, res.err
    out = json.loads(res.out)  # stdout is only the JSON: kfp.Client's link prints went to stderr

    # One pipeline named for the project; its version named by the git commit.
    settings = load_settings(kfp_project / "onepipe.yaml", env="prod", user="alice")
    from onepipe.tracking.gitinfo import git_state

    sha = git_state(kfp_project).commit[:12]
    (pipeline,) = kfp_emulator.pipelines.values()
    assert pipeline["display_name"] == "credit-risk"
    version = kfp_emulator.versions[out["pipeline_version_id"]]
    assert version["display_name"] == out["pipeline_version"] == sha

    # The uploaded spec is the compiled IR with every executor on repo@digest.
    images = {
        e["container"]["image"] for e in version["spec"]["deploymentSpec"]["executors"].values()
    }
    assert images == {f"ghcr.io/onepipe/credit-risk-train@{DIGEST}"}
    assert set(version["spec"]["root"]["dag"]["tasks"]) == {
        "ingest", "validate", "featurize", "train", "evaluate",
    }  # fmt: skip

    # The run: in experiment <project>-<env>-<user>, on that version, params pinned.
    (exp,) = kfp_emulator.experiments.values()
    assert exp["display_name"] == "credit-risk-prod-alice" and exp["namespace"] == "onepipe-prod"
    (run,) = kfp_emulator.runs.values()
    assert run["experiment_id"] == exp["experiment_id"]
    assert run["pipeline_version_reference"]["pipeline_version_id"] == out["pipeline_version_id"]
    params = run["runtime_config"]["parameters"]
    assert params["data_ref"] == pachyderm.ref and len(pachyderm.id) == 32
    assert params["data_store"] == settings.data_store_uri == "pachyderm://localhost:30650/default"
    assert params["n_estimators"] == 30 and params["max_depth"] == 2  # variant fast

    # Followed to the end: one step per task, links printed.
    assert out["state"] == "SUCCEEDED" and kfp_emulator.polls[run["run_id"]] >= 4
    assert [s["name"] for s in out["steps"]] == [
        "ingest", "validate", "featurize", "train", "evaluate",
    ]  # fmt: skip
    assert {s["status"] for s in out["steps"]} == {"done"}
    assert out["url"] == f"{kfp_emulator.url}/#/runs/details/{run['run_id']}"
    # The KFP run is an MLflow run too, with the lineage tags and a child run per task.
    from onepipe.tracking.client import client_for

    tracked = load_settings(
        kfp_project / "onepipe.yaml",
        env="prod",
        user="alice",
        overrides=["tracking.uri=sqlite:///.onepipe/mlflow-kfp.db"],
    )
    client = client_for(tracked)
    (mlrun,) = client.search_runs(
        [client.get_experiment_by_name(tracked.experiment_name).experiment_id],
        f"tags.`onepipe.kfp.run_id` = '{run['run_id']}'",
    )
    assert mlrun.info.run_id in out["mlflow"]
    assert mlrun.data.tags["onepipe.kfp.url"] == out["url"]
    assert mlrun.data.tags["onepipe.data.data_ref"] == pachyderm.ref
    assert mlrun.data.params["n_estimators"] == "30"
    children = client.search_runs(
        [mlrun.info.experiment_id], f"tags.`mlflow.parentRunId` = '{mlrun.info.run_id}'"
    )
    assert len(children) == 5
    assert "RUNNING" in res.err and "SUCCEEDED" in res.err and out["url"] in res.err

    # Same commit again: the version is reused, a second run is created; `runs` lists both.
    again = cli("submit", *_args(kfp_emulator), "--no-wait", "--json", cwd=kfp_project)
    assert again.code == 0, again.err
    assert json.loads(again.out)["pipeline_version_id"] == out["pipeline_version_id"]
    assert len(kfp_emulator.runs) == 2 and len(kfp_emulator.experiments) == 1
    listed = cli("runs", *_args(kfp_emulator)[:4], "--json", cwd=kfp_project)
    assert listed.code == 0, listed.err
    assert {r["run_id"] for r in json.loads(listed.out)} == set(kfp_emulator.runs)
    assert len(kfp_emulator.received("POST", "/apis/v2beta1/pipelines/upload")) == 1
    assert len(kfp_emulator.received("POST", "/apis/v2beta1/pipelines/upload_version")) == 1


def test_a_failed_task_fails_the_submit_with_exit_1(kfp_project, kfp_emulator, pachyderm, cli):
    kfp_emulator.states = ["RUNNING", "FAILED"]
    kfp_emulator.task_states = {"train": "FAILED", "evaluate": "SKIPPED"}
    res = cli("submit", *_args(kfp_emulator), "--json", cwd=kfp_project)
    assert res.code == 1
    steps = {s["name"]: s for s in json.loads(res.out)["steps"]}
    assert steps["train"]["status"] == "failed" and "exit code 1" in steps["train"]["error"]
    assert steps["evaluate"]["status"] == "skipped" and steps["ingest"]["status"] == "done"
    assert res.err.strip().splitlines()[-1].startswith("error: KFP run")
    assert "step 'train' failed" in res.err


def test_prod_refuses_an_unpinned_image_and_unreachable_kfp_is_one_line(
    kfp_project, pachyderm, cli
):
    res = cli("submit", "--env", "prod", cwd=kfp_project)
    assert res.code == 2 and res.err.count("\n") == 1
    assert "image.training_digest is not set" in res.err
    res = cli("submit", "--env", "prod", "-p", "kfp.host=http://127.0.0.1:9", "-p",
              f"image.training_digest={DIGEST}", cwd=kfp_project)  # fmt: skip
    assert res.code == 2 and res.err.startswith("error: KFP at http://127.0.0.1:9")
    assert res.err.count("\n") == 1, res.err


def test_compile_stamps_the_digest_only_when_set(kfp_project):
    from onepipe.pipeline.compile import compile_ir

    plain = load_settings(kfp_project / "onepipe.yaml", user="t")
    pinned = load_settings(
        kfp_project / "onepipe.yaml", user="t", overrides=[f"image.training_digest={DIGEST}"]
    )
    image = {
        e["container"]["image"] for e in compile_ir(plain)["deploymentSpec"]["executors"].values()
    }
    assert image == {"ghcr.io/onepipe/credit-risk-train:0.1.0"}
    assert pinned.image.pinned == f"ghcr.io/onepipe/credit-risk-train@{DIGEST}"
    ir = compile_ir(pinned)
    assert {e["container"]["image"] for e in ir["deploymentSpec"]["executors"].values()} == {
        pinned.image.pinned
    }
    assert yaml.safe_dump(ir)  # still plain YAML


def test_the_kfp_runner_is_registered_and_not_cached():
    from onepipe.data.protocol import load_data_store
    from onepipe.pipeline.protocol import load_runner
    from onepipe.pipeline.runners.kfp.runner import KfpRunner

    assert load_runner("kfp") is KfpRunner
    assert load_data_store("pachyderm") is PachydermDataStore
    assert KfpRunner().fully_cached(None) is False
