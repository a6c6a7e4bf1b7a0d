"""manifests/base + manifests/overlays/<env>: rendered by `onepipe render overlays`, built by
``kubectl kustomize`` where kubectl exists, and every resulting object validated."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from cluster_checks import validate_object

from onepipe.k8s.manifests import PREDICTOR_SA, TRIAL_SA
from onepipe.k8s.render_overlays import render_all, write

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"
ENVS = ("dev", "test", "acc", "prod")
# Each stage's cluster backend's file (in registry order), then the project file.
OVERLAY_FILES = (
    "experiment.yaml",
    "seldondeployment.yaml",
    "pachyderm-pipeline.yaml",
    "project-config.yaml",
)
KUBECTL = shutil.which("kubectl")
needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed")


def _settings(env: str):
    from onepipe.config import load_settings

    return load_settings(REPO / "onepipe.yaml", env=env)


def test_committed_manifests_are_current(tmp_path):
    """What is committed under manifests/ is exactly what `onepipe render overlays` writes."""
    files = render_all(_settings, ENVS)
    write(files, tmp_path)
    stale = [str(f.path) for f in files if (MANIFESTS / f.path).read_text() != f.text]
    assert stale == [], "re-render with `onepipe render overlays`"
    for env in ENVS:
        k = yaml.safe_load((MANIFESTS / "overlays" / env / "kustomization.yaml").read_text())
        assert k["resources"] == ["../../base", *OVERLAY_FILES]
        for res in k["resources"]:
            assert (MANIFESTS / "overlays" / env / res).exists(), res


@pytest.mark.parametrize("env", ENVS)
def test_overlay_files_validate_without_kubectl(env):
    """Each file of the overlay, as written, validates (the kubectl test adds the built result)."""
    here = MANIFESTS / "overlays" / env
    for name in OVERLAY_FILES:
        for obj in yaml.safe_load_all((here / name).read_text()):
            validate_object(obj)
    for obj in yaml.safe_load_all((MANIFESTS / "base" / "rbac.yaml").read_text()):
        validate_object(obj)


@needs_kubectl
@pytest.mark.parametrize("env", ENVS)
def test_kubectl_kustomize_builds_a_valid_overlay(env):
    proc = subprocess.run(
        [KUBECTL, "kustomize", str(MANIFESTS / "overlays" / env)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    objs = [d for d in yaml.safe_load_all(proc.stdout) if d]
    ns = _settings(env).kubernetes.namespace
    kinds = {}
    for obj in objs:
        validate_object(obj)
        assert obj["metadata"]["namespace"] == ns, obj["metadata"]["name"]
        assert obj["metadata"]["labels"]["onepipe.io/env"] == env
        kinds.setdefault(obj["kind"], []).append(obj)
    assert set(kinds) == {
        "ServiceAccount",
        "Role",
        "RoleBinding",
        "ConfigMap",
        "Experiment",
        "SeldonDeployment",
    }
    accounts = {sa["metadata"]["name"] for sa in kinds["ServiceAccount"]}
    assert accounts == {TRIAL_SA, PREDICTOR_SA}
    for binding in kinds["RoleBinding"]:
        assert binding["subjects"][0]["namespace"] == ns
    (exp,) = kinds["Experiment"]
    trial_pod = exp["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    assert trial_pod["serviceAccountName"] == TRIAL_SA
    mounted = trial_pod["volumes"][0]["configMap"]["name"]
    assert mounted in {cm["metadata"]["name"] for cm in kinds["ConfigMap"]}
    (sdep,) = kinds["SeldonDeployment"]
    assert {p["graph"]["serviceAccountName"] for p in sdep["spec"]["predictors"]} == {PREDICTOR_SA}
    assert "onepipe-project" in {cm["metadata"]["name"] for cm in kinds["ConfigMap"]}


def test_render_overlays_command(cli, project, tmp_path):
    res = cli("render", "overlays", "--env", "acc", "-o", str(tmp_path / "out"))
    assert res.code == 0, res.err
    assert (tmp_path / "out" / "overlays" / "acc" / "kustomization.yaml").exists()
    assert (tmp_path / "out" / "base" / "rbac.yaml").exists()
    assert not (tmp_path / "out" / "overlays" / "prod").exists()
    assert "wrote" in res.err
    res = cli("render", "overlays", "--env", "staging", "-o", str(tmp_path / "out"))
    assert res.code == 2
    assert res.err.strip().splitlines() == [
        "error: --env staging: unknown environment (expected one of: dev, test, acc, prod)"
    ]
