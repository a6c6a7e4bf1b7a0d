"""Steps record themselves from their pods: the compiled IR, instrumented as `onepipe submit`
uploads it, run by kfp.local's subprocess runner (a fresh process per step, as in a pod)
with the environment a cluster pod gets, against a real `mlflow server`. The record must
match an in-process run's, field by field, but for what only a pod knows or may differ."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import types

import pytest
from onepipe_testkit import FAST, copy_project, mlflow_server

from onepipe.config import load_settings
from onepipe.data import open_store
from onepipe.pipeline import pod_tracking
from onepipe.pipeline.execute import build_plan, run_pipeline
from onepipe.pipeline.graph import PipelineGraph
from onepipe.pipeline.protocol import NullListener
from onepipe.pipeline.runners.kfp import commands
from onepipe.pipeline.runners.kfp_local import KfpLocalRunner
from onepipe.tracking.client import client_for

pytestmark = pytest.mark.slow

# Differ by nature: ids and times, the cache key (a pod has KFP's cache, not onepipe's).
VOLATILE_TAGS = {"mlflow.parentRunId", "onepipe.cache_key"}
POD_ONLY_TAGS = {"onepipe.kfp.run_id", "onepipe.image"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with mlflow_server(tmp_path_factory.mktemp("mlflow-pods")) as url:
        yield url


def _pod_environment(monkeypatch, ir: dict) -> None:
    """What a pod of this IR finds in its environment (kfp.local passes os.environ on)."""
    for executor in ir["deploymentSpec"]["executors"].values():
        for env in executor["container"].get("env", []):
            monkeypatch.setenv(env["name"], env["value"])


def _children(client, run) -> dict:
    found = client.search_runs(
        [run.info.experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
    )
    return {r.data.tags["onepipe.step"]: r for r in found}


def _version(client, name: str, run_id: str):
    (mv,) = [v for v in client.search_model_versions(f"name='{name}'") if v.run_id == run_id]
    return client.get_model_version(name, mv.version)  # with its aliases


def test_pods_write_the_record_an_in_process_run_writes(server, tmp_path, monkeypatch):
    root = copy_project(tmp_path / "proj")
    local = load_settings(
        root / "onepipe.yaml", overrides=[*FAST, "tracking.uri=sqlite:///.onepipe/local.db"]
    )
    open_store(local).put("loans", [root / "data/loans/batch_1.csv"])
    done = run_pipeline(local, command="pytest", use_cache=False)
    lclient = client_for(local)
    lrun = lclient.get_run(done.run_id)

    # The pod path: the parent opened by submit's own code, the IR as submit uploads it.
    settings = load_settings(root / "onepipe.yaml", overrides=[*FAST, f"tracking.uri={server}"])
    plan, _ = build_plan(settings, use_cache=False)
    ir = pod_tracking.instrument(plan.ir, pod_tracking.PodTracking.for_settings(settings))
    tracker, record = commands._open_parent(settings, plan, "pods")
    _pod_environment(monkeypatch, ir)
    monkeypatch.setenv(pod_tracking.PARENT_ENV, tracker.run_id)
    steps = KfpLocalRunner().run(dataclasses.replace(plan, ir=ir), NullListener())
    assert {s.status for s in steps} == {"done"}, [s.error for s in steps]
    # The KFP run id each pod got from KFP's placeholder (kfp.local makes one up per run).
    client = client_for(settings)
    kfp_run_id = client.search_runs(
        [client.get_run(tracker.run_id).info.experiment_id],
        "tags.`onepipe.step` = 'train'",
    )[0].data.tags["onepipe.kfp.run_id"]
    handle = types.SimpleNamespace(state="SUCCEEDED", run_id=kfp_run_id)
    commands._close_parent(settings, tracker, record, handle, steps)
    prun = client.get_run(tracker.run_id)

    # One run per step, written by the step's own process, under submit's parent.
    mine, theirs = _children(lclient, lrun), _children(client, prun)
    assert set(mine) == set(theirs) == {"ingest", "validate", "featurize", "train", "evaluate"}
    for step, want in mine.items():
        got = theirs[step]
        assert got.info.status == "FINISHED", step
        assert got.data.params == want.data.params, step
        assert set(got.data.metrics) == set(want.data.metrics), step
        for key, value in want.data.metrics.items():
            if key != "duration_s":
                assert got.data.metrics[key] == pytest.approx(value), (step, key)
        want_tags = {k: v for k, v in want.data.tags.items() if k not in VOLATILE_TAGS}
        got_tags = {k: v for k, v in got.data.tags.items() if k not in VOLATILE_TAGS}
        assert {k: got_tags.pop(k) for k in POD_ONLY_TAGS} == {
            "onepipe.kfp.run_id": kfp_run_id,
            "onepipe.image": settings.image.pinned,
        }
        got_tags.pop("onepipe.model", None)  # the pod's model step names its version
        assert got_tags == want_tags, step
    # The per-stage history, a metric per stage, the same curve on both sides.
    curve = [k for k in mine["train"].data.metrics if k.startswith("validation_")][0]
    lhist = lclient.get_metric_history(mine["train"].info.run_id, curve)
    phist = client.get_metric_history(theirs["train"].info.run_id, curve)
    assert len(lhist) > 1 and [m.step for m in phist] == [m.step for m in lhist]
    assert [m.value for m in phist] == pytest.approx([m.value for m in lhist])

    # The model: registered from the model step's pod with the local version's tags,
    # plus the image and the KFP run; the same files; parent and step name it.
    lv = _version(lclient, local.model_name, lrun.info.run_id)
    pv = _version(client, settings.model_name, theirs["train"].info.run_id)
    ptags = dict(pv.tags)
    assert ptags.pop("onepipe.kfp.run_id") == kfp_run_id
    assert ptags.pop("onepipe.image") == settings.image.pinned
    assert ptags.pop("onepipe.config_hash") == settings.config_hash
    ltags = dict(lv.tags)
    assert ltags.pop("onepipe.config_hash") == local.config_hash
    assert ptags == ltags and pv.aliases == lv.aliases == ["challenger"]
    names = {a.path.split("/")[-1] for a in lclient.list_artifacts(lrun.info.run_id, "model")}
    pnames = {
        a.path.split("/")[-1] for a in client.list_artifacts(theirs["train"].info.run_id, "model")
    }
    assert pnames == names and "MLmodel" in names
    model_tag = f"{settings.model_name}/{pv.version}"
    assert (
        prun.data.tags["onepipe.model"] == theirs["train"].data.tags["onepipe.model"] == model_tag
    )

    # The parent: the run's metrics are the metrics step's, as locally; it ended FINISHED.
    assert prun.info.status == "FINISHED" and prun.data.tags["onepipe.kfp.state"] == "SUCCEEDED"
    assert prun.data.metrics == pytest.approx(lrun.data.metrics)


def test_with_the_kfp_integration_on_a_step_logs_into_its_nested_run(server, tmp_path, monkeypatch):
    """KEP-12862: KFP opened a nested run for the task and says so in MLFLOW_RUN_ID."""
    root = copy_project(tmp_path / "proj")
    settings = load_settings(
        root / "onepipe.yaml",
        overrides=[*FAST, f"tracking.uri={server}", "tracking.experiment=kfp-integration"],
    )
    commit = open_store(settings).put("loans", [root / "data/loans/batch_1.csv"])
    plan, _ = build_plan(settings, use_cache=False)
    ir = pod_tracking.instrument(plan.ir, pod_tracking.PodTracking.for_settings(settings))
    ir["root"]["dag"]["tasks"] = {"ingest": ir["root"]["dag"]["tasks"]["ingest"]}
    ir["root"].pop("outputDefinitions", None)
    client = client_for(settings)
    exp = client.create_experiment("kfp-integration")
    kfp_parent = client.create_run(exp, run_name="kfp-pipeline-run").info.run_id
    nested = client.create_run(
        exp, run_name="ingest", tags={"mlflow.parentRunId": kfp_parent}
    ).info.run_id
    _pod_environment(monkeypatch, ir)
    monkeypatch.setenv("MLFLOW_RUN_ID", nested)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", server)
    sub = dataclasses.replace(plan, ir=ir, graph=PipelineGraph.from_ir(ir))
    (step,) = KfpLocalRunner().run(sub, NullListener())
    assert step.status == "done", step.error

    run = client.get_run(nested)
    assert run.data.params["data_ref"] == plan.arguments["data_ref"] == f"loans@{commit.id}"
    assert run.data.tags["onepipe.step"] == "ingest" and run.data.tags["onepipe.status"] == "done"
    assert run.data.tags["mlflow.parentRunId"] == kfp_parent  # KFP's parent, not onepipe's
    assert "onepipe.output.raw" in run.data.tags and "duration_s" in run.data.metrics
    assert run.info.status == "RUNNING"  # the integration ends its own run
    # Nothing logged twice: no second run for the step, no run under the nested one.
    every = client.search_runs([exp])
    assert {r.info.run_id for r in every} == {kfp_parent, nested}


def test_a_pod_finds_the_parent_submit_opened_by_the_kfp_run_id(server, tmp_path):
    root = copy_project(tmp_path / "proj")
    settings = load_settings(
        root / "onepipe.yaml", overrides=[f"tracking.uri={server}", "tracking.experiment=find"]
    )
    client = client_for(settings)
    exp = client.create_experiment("find")
    parent = client.create_run(
        exp, tags={"onepipe.kfp.run_id": "kfp-123", "onepipe.kind": "pipeline"}
    ).info.run_id
    env = {pod_tracking.ENV_VAR: json.dumps({"tracking_uri": server, "experiment_name": "find"})}
    pod = pod_tracking.PodTracking.from_environment(env, "kfp-123")
    assert pod_tracking.find_parent(client, pod) == parent
    lost = pod_tracking.PodTracking.from_environment(env, "kfp-999")
    with pytest.raises(Exception, match="onepipe.kfp.run_id=kfp-999"):
        pod_tracking.find_parent(client, lost, wait_s=0, sleep=lambda s: None)
    assert pod_tracking.PodTracking.from_environment({}, "x") is None  # kfp-local: nothing to do
    # A pod whose tracking facts are not JSON stops before the step, on one line, exit 2.
    proc = subprocess.run(
        [sys.executable, "-m", "onepipe.steps.pod", "-m", "kfp.dsl.executor_main"],
        env={**os.environ, pod_tracking.ENV_VAR: "not json"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1, proc.stderr
    assert proc.stderr.startswith(f"error: {pod_tracking.ENV_VAR}: not JSON")
