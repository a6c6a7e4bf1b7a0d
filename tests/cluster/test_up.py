"""`onepipe up`: --dry-run prints the overlay's objects; applying goes through the real kubernetes
client over real HTTP to the kmock API emulator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from onepipe_testkit import Emulator

REPO = Path(__file__).resolve().parents[2]


def _overlay_objects(env: str) -> set[tuple[str, str]]:
    """(kind, name) of everything the committed base + overlay hold."""
    docs = []
    for folder in (REPO / "manifests/base", REPO / "manifests/overlays" / env):
        k = yaml.safe_load((folder / "kustomization.yaml").read_text())
        for res in k["resources"]:
            if not res.startswith(".."):
                docs += [d for d in yaml.safe_load_all((folder / res).read_text()) if d]
    return {(d["kind"], d["metadata"]["name"]) for d in docs}


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_dry_run_prints_what_the_overlay_applies(cli, env, monkeypatch):
    # The committed overlays are rendered with no user prefix on per-user names (sweeps).
    monkeypatch.setenv("ONEPIPE_USER", "anonymous")
    res = cli("up", "--env", env, "--dry-run", "--json", cwd=REPO)
    assert res.code == 0, res.err
    objects = json.loads(res.out)
    assert {(o["kind"], o["metadata"]["name"]) for o in objects} == _overlay_objects(env)
    namespace = "onepipe-prod" if env == "prod" else "default"
    assert {o["metadata"]["namespace"] for o in objects} == {namespace}
    assert {o["metadata"]["labels"]["onepipe.io/env"] for o in objects} == {env}
    assert f"values-{env}.yaml" in res.err
    text = cli("up", "--env", env, "--dry-run", cwd=REPO)
    assert (
        text.code == 0 and "kind: SeldonDeployment" in text.out and "kind: Experiment" in text.out
    )


def test_up_applies_every_object_and_converges(tmp_path, monkeypatch):
    from onepipe.config import load_settings
    from onepipe.k8s.up import apply_objects, environment_objects

    settings = load_settings(REPO / "onepipe.yaml", env="acc")
    objects = environment_objects(settings)
    with Emulator() as emu:
        api = emu.api_client()
        first = apply_objects(api, objects)
        assert [d["action"] for d in first] == ["created"] * len(objects)
        again = apply_objects(api, objects)  # a re-run patches what is there
        assert [d["action"] for d in again] == ["applied"] * len(objects)
        from kubernetes import client

        sd = client.CustomObjectsApi(api).get_namespaced_custom_object(
            "machinelearning.seldon.io", "v1", "onepipe-acc", "seldondeployments", "credit-risk"
        )
        assert sd["spec"]["predictors"][0]["name"] == "main"
        cm = client.CoreV1Api(api).read_namespaced_config_map("onepipe-project", "onepipe-acc")
        assert "project: credit-risk" in cm.data["onepipe.yaml"]
