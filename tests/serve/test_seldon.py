"""The Seldon backend: rendered objects checked against the CRD schema; apply/patch/status
through the real ``kubernetes`` client against the kmock API emulator over real HTTP."""

from __future__ import annotations

import pytest
import yaml
from onepipe_testkit import Emulator
from serve_helpers import load

from onepipe.history import DeploymentState
from onepipe.serve import deployments
from onepipe.serve.errors import DeployError
from onepipe.serve.seldon.deployer import SeldonDeployer
from onepipe.serve.seldon.render import SeldonSchemaError, render, validate
from onepipe.tracking.registry import resolve_model


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


@pytest.fixture()
def cluster_settings(project):
    """env acc (seldon backend, namespace onepipe-acc) on this machine's registry and history."""
    from onepipe.config import load_settings
    from onepipe.tracking.aliases import alias
    from onepipe.tracking.client import client_for

    s = load_settings(
        project / "onepipe.yaml",
        env="acc",
        user="tester",
        overrides=[
            "tracking.uri=sqlite:///.onepipe/mlflow.db",
            "serve.history_url=.onepipe/cluster-history.db",
            "serve.seldon.ready_timeout_s=0",
        ],
    )
    # Aliases are per environment (acc-champion, ...): give acc the roles dev's runs set.
    client = client_for(s)
    for role, version in client.get_registered_model("credit-risk").aliases.items():
        if role in ("champion", "challenger"):
            client.set_registered_model_alias("credit-risk", alias(s, role), version)
    return s


@pytest.fixture()
def seldon(cluster_settings, emulator, monkeypatch):
    deployer = SeldonDeployer(cluster_settings, api_client=emulator.api_client(), poll_s=0.05)
    monkeypatch.setattr(SeldonDeployer, "from_settings", classmethod(lambda cls, s: deployer))
    return deployer


def _refs(settings, *versions):
    return {v: resolve_model(settings, f"credit-risk/{v}") for v in versions}


def test_render_matches_the_crd_schema_for_every_environment(project):
    refs = _refs(load(project), "1", "2")
    for env in ("dev", "test", "acc", "prod"):
        s = load(project, env=env)
        for state in (
            DeploymentState("credit-risk", "1"),
            DeploymentState("credit-risk", "1", "2", 10),
            DeploymentState("credit-risk", "1", "2", 0, shadow=True),
        ):
            obj = render(s, state, refs)  # validates
            preds = {p["name"]: p for p in obj["spec"]["predictors"]}
            assert obj["spec"]["protocol"] == "v2"
            assert obj["metadata"]["namespace"] == s.kubernetes.namespace
            assert preds["main"]["traffic"] == (100 if state.shadow or not state.challenger else 90)
            graph = preds["main"]["graph"]
            assert graph["modelUri"] == refs["1"].source
            assert graph["logger"]["url"] == s.serve.seldon.monitor_url
            container = preds["main"]["componentSpecs"][0]["spec"]["containers"][0]
            assert container["image"] == s.image.training and "implementation" not in graph
            if state.challenger:
                assert preds["canary"]["traffic"] == (0 if state.shadow else 10)
                assert preds["canary"].get("shadow", False) == state.shadow


def test_schema_catches_a_typo_and_a_wrong_type(project):
    s = load(project)
    obj = render(s, DeploymentState("credit-risk", "1"), _refs(s, "1"))
    obj["spec"]["predictors"][0]["trafic"] = 10
    with pytest.raises(SeldonSchemaError, match="spec.predictors.0: .*'trafic'"):
        validate(obj)
    obj = render(s, DeploymentState("credit-risk", "1"), _refs(s, "1"))
    obj["spec"]["predictors"][0]["traffic"] = "ten"
    with pytest.raises(SeldonSchemaError, match="spec.predictors.0.traffic"):
        validate(obj)


def test_deploy_promote_rollback_against_the_api_emulator(seldon, cluster_settings):
    s = cluster_settings
    assert seldon.live() is None
    change, message = deployments.deploy(
        s, champion="1", challenger="2", canary=10, target="cluster"
    )
    assert "applied SeldonDeployment onepipe-acc/credit-risk" in message
    obj = seldon.get()
    traffic = {p["name"]: p["traffic"] for p in obj["spec"]["predictors"]}
    assert traffic == {"main": 90, "canary": 10}
    assert seldon.live() == change.state

    ref, previous, routed = deployments.promote(s, target="cluster")
    assert (str(ref.version), str(previous)) == ("2", "1")
    obj = seldon.get()
    assert [(p["name"], p["traffic"]) for p in obj["spec"]["predictors"]] == [("main", 100)]
    assert obj["spec"]["predictors"][0]["labels"]["onepipe.dev/model-version"] == "2"

    change, _ = deployments.rollback(s, target="cluster")
    obj = seldon.get()
    assert {p["name"]: p["traffic"] for p in obj["spec"]["predictors"]} == {
        "main": 90,
        "canary": 10,
    }
    assert resolve_model(s, "credit-risk@champion").version in ("1", 1)
    assert [c.action for c in deployments.history(s, target="cluster")][:3] == [
        "rollback",
        "promote",
        "deploy",
    ]


def test_a_failed_rollout_restores_the_previous_spec(seldon, cluster_settings):
    s = cluster_settings
    deployments.deploy(s, champion="1", challenger="2", canary=10, target="cluster")
    # the operator reports the rollout failed
    seldon.resources.patch(
        seldon.name,
        {"status": {"state": "Failed", "description": "pod crash-looping"}},
        status=True,
    )
    before = len(deployments.history(s, target="cluster"))
    with pytest.raises(DeployError, match="pod crash-looping.*restored the previous spec"):
        deployments.deploy(s, champion="1", challenger="2", canary=50, target="cluster")
    obj = seldon.get()
    assert {p["name"]: p["traffic"] for p in obj["spec"]["predictors"]} == {
        "main": 90,
        "canary": 10,
    }
    assert len(deployments.history(s, target="cluster")) == before


def test_rendered_manifests_are_current(project):
    """manifests/seldon/<env>/seldondeployment.yaml is what render gives (modelUri aside)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    for env in ("dev", "test", "acc", "prod"):
        path = repo / "manifests" / "seldon" / env / "seldondeployment.yaml"
        obj = yaml.safe_load(path.read_text())
        validate(obj)
        s = load(project, env=env)
        assert obj["metadata"]["namespace"] == s.kubernetes.namespace
        assert obj["spec"]["predictors"][0]["graph"]["logger"]["url"] == s.serve.seldon.monitor_url
