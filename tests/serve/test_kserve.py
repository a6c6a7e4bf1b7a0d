"""The KServe backend: rendered objects checked against the v0.20 CRD schema; the rollout
steps of a canary; apply/patch/status through the real ``kubernetes`` client against the
kmock API emulator over real HTTP, with KServe's controller played by kserve_operator.py;
the request logger's CloudEvents into the prediction log; the CLI and ``onepipe up``
reaching it through its registry line alone. Nothing here ran against a real KServe."""

from __future__ import annotations

import copy
import gzip
import itertools
import json
import time
from pathlib import Path
from urllib.parse import quote

import pytest
import yaml
from kserve_operator import KServeOperator
from kubernetes import client
from kubernetes.config import kube_config
from onepipe_testkit import Emulator
from serve_helpers import load
from starlette.testclient import TestClient

from onepipe.config import load_settings
from onepipe.errors import ConfigError
from onepipe.history import DeploymentState, open_history
from onepipe.k8s.manifests import environment_manifests
from onepipe.k8s.render_overlays import render_overlay
from onepipe.k8s.up import apply_objects, environment_objects
from onepipe.monitor.intake import IntakeError
from onepipe.monitor.logged_events import event_time
from onepipe.monitor.service import Monitor, build_app
from onepipe.serve import deployments
from onepipe.serve.errors import DeployError
from onepipe.serve.kserve.cloudevents import REQUEST, RESPONSE
from onepipe.serve.kserve.deployer import KServeDeployer
from onepipe.serve.kserve.intake import intake
from onepipe.serve.kserve.manifests import document
from onepipe.serve.kserve.names import GROUP, PLURAL, SERVED_VERSION, monitor_url
from onepipe.serve.kserve.render import render
from onepipe.serve.kserve.rollout import Step, plan
from onepipe.serve.kserve.schema import KServeSchemaError, validate
from onepipe.tracking.aliases import alias
from onepipe.tracking.client import client_for
from onepipe.tracking.registry import ModelRef, resolve_model

MODEL = "credit-risk"
ENVS = ("dev", "test", "acc", "prod")
# Storage URI -> why the played controller says its model fails, one reason per revision
# started from it (a revision after the list runs out loads).
FAILING: dict[str, list[str]] = {}
OBJECTS = itertools.count(1)  # each emulator test gets an InferenceService of its own


def _load_error(uri: str) -> str | None:
    reasons = FAILING.get(uri)
    return reasons.pop(0) if reasons else None


def _refs(settings, *versions):
    return {v: resolve_model(settings, f"{MODEL}/{v}") for v in versions}


def _state(champion, challenger=None, canary=0):
    return DeploymentState(MODEL, champion, challenger, canary)


def load_settings_with(project, *overrides):
    return load_settings(project / "onepipe.yaml", env="dev", user="tester", overrides=overrides)


# ---- the object, against the CRD -------------------------------------------------------------
def test_every_rendered_object_matches_the_crd_for_every_environment(project):
    refs = _refs(load(project), "1", "2")
    for env in ENVS:
        s = load(project, env=env)
        for step in (
            Step(_state("1"), 100),
            Step(_state("1"), 0),
            Step(_state("1", "2", 10), 10),
            Step(_state("2", "1", 0), 0),
        ):
            obj = render(s, step, refs)  # validates
            predictor = obj["spec"]["predictor"]
            model = predictor["model"]
            assert obj["apiVersion"] == "serving.kserve.io/v1beta1"
            assert obj["metadata"]["namespace"] == s.kubernetes.namespace
            assert obj["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Knative"
            assert model["modelFormat"] == {"name": "mlflow"}
            assert (model["runtime"], model["protocolVersion"]) == ("kserve-mlserver", "v2")
            assert model["storageUri"] == refs[step.version].source
            assert predictor["canaryTrafficPercent"] == step.latest_percent
            assert predictor["annotations"] == {SERVED_VERSION: step.version}
            assert predictor["logger"] == {
                "mode": "all",
                "url": f"http://onepipe-monitor.{s.kubernetes.namespace}.svc.cluster.local"
                ":8080/api/v1/kserve",
                "metadataAnnotations": [SERVED_VERSION],
            }
        manifest = document(s)  # what manifests/ and `onepipe up` hold
        validate(manifest)
        assert manifest["spec"]["predictor"]["serviceAccountName"] == "onepipe-predictor"
        assert manifest["spec"]["predictor"]["canaryTrafficPercent"] == 100  # champion alone


def test_a_wrong_or_unknown_field_is_refused_naming_it(project):
    s = load(project)
    good = render(s, Step(_state("1"), 100), _refs(s, "1"))
    for path, key, value, says in (
        (("spec", "predictor"), "canaryTraficPercent", 10, r"spec\.predictor: .*'canaryTraficPercent'"),
        (("spec", "predictor", "model"), "storageURI", "s3://x", r"spec\.predictor\.model: .*'storageURI'"),
        (("spec", "predictor"), "canaryTrafficPercent", "ten", r"spec\.predictor\.canaryTrafficPercent: 'ten'"),
        (("spec", "predictor", "logger"), "mode", "most", r"spec\.predictor\.logger\.mode: 'most'"),
    ):  # fmt: skip
        obj = copy.deepcopy(good)
        node = obj
        for part in path:
            node = node[part]
        node[key] = value
        with pytest.raises(KServeSchemaError, match=says) as refused:
            validate(obj)
        assert "KServe v0.20.0 InferenceService CRD" in str(refused.value)
        assert "\n" not in str(refused.value)


def test_its_section_has_defaults_and_refuses_what_kserve_cannot_take(project):
    s = load(project)
    assert s.serve.kserve.runtime == "kserve-mlserver" and s.serve.kserve.min_replicas == 1
    assert monitor_url(load(project, env="acc")).startswith("http://onepipe-monitor.onepipe-acc.")
    chosen = ["backends.serve=kserve"]
    cases = {
        "serve.kserve.name=9lives": r"serve\.kserve\.name: .*starting with a letter",
        "serve.kserve.resources.limits.cpu=lots": r"expected a Kubernetes quantity",
        "serve.kserve.deployment_mode=Standard": r"serve\.kserve\.deployment_mode",
    }
    for override, says in cases.items():
        with pytest.raises(ConfigError, match=says):
            load_settings_with(project, override)
    # Only once an environment chooses kserve: its object's name, shadow, sticky.
    assert load_settings_with(project, "serve.shadow=true").serve.shadow
    for override, says in {
        "model.name=Credit_Risk": r"model\.name: .*names the InferenceService",
        "serve.shadow=true": r"serve\.shadow: KServe's canary .* no shadow routing",
        "serve.sticky=true": r"serve\.sticky: .* no sticky routing",
    }.items():
        with pytest.raises(ConfigError, match=says):
            load_settings_with(project, *chosen, override)
    assert load_settings_with(project, *chosen, "model.name=Credit_Risk", "serve.kserve.name=cr")


# ---- the canary as KServe does it: the steps a change takes ------------------------------------
def test_the_steps_of_each_change():
    one, canary = Step(_state("1"), 100), Step(_state("1", "2", 25), 25)
    # Nothing serves: the champion first (a first revision takes everything), then the canary.
    assert plan(None, _state("1", "2", 25)) == [one, canary]
    # The champion is the rolled-out revision: one write; a new share moves no revision.
    assert plan(one, _state("1", "2", 25)) == [canary]
    assert plan(canary, _state("1", "2", 50)) == [Step(_state("1", "2", 50), 50)]
    # Withdrawing the challenger pins the champion: its revision keeps everything at once.
    assert plan(canary, _state("1")) == [Step(_state("1"), 0)]
    assert plan(Step(_state("1"), 0), _state("1")) == [Step(_state("1"), 0)]  # as it is
    # Promote: the challenger's revision is the latest ready one; rolled out at 100%.
    assert plan(canary, _state("2")) == [Step(_state("2"), 100)]
    # A new champion under a canary of a third version: it starts at 0% beside the split,
    # so the roll-out's interim "latest ready" is the new champion, then the canary.
    assert plan(canary, _state("3", "1", 10)) == [
        Step(_state("1", "3", 0), 0),
        Step(_state("3"), 100),
        Step(_state("3", "1", 10), 10),
    ]
    # Swapping roles: the new champion is already the latest revision.
    assert plan(Step(_state("2", "1", 10), 10), _state("1", "2", 10)) == [
        Step(_state("1"), 100),
        Step(_state("1", "2", 10), 10),
    ]
    # A canary at 100% rolls its challenger out: that is what the next change starts from.
    assert plan(Step(_state("1", "2", 100), 100), _state("2", "3", 5)) == [
        Step(_state("2", "3", 5), 5)
    ]


# ---- against the API emulator ------------------------------------------------------------------
@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


@pytest.fixture(scope="module")
def operator(emulator):
    played = KServeOperator(_load_error)
    emulator.operate(GROUP, PLURAL, played)
    return played


@pytest.fixture()
def cluster_settings(project):
    """env acc with backends.serve kserve (namespace onepipe-acc), on this machine's
    registry; its own InferenceService and history per test."""
    FAILING.clear()
    name = f"isvc-{next(OBJECTS)}"
    s = load_settings(
        project / "onepipe.yaml",
        env="acc",
        user="tester",
        overrides=[
            "backends.serve=kserve",
            "tracking.uri=sqlite:///.onepipe/mlflow.db",
            f"serve.history_url=.onepipe/{name}-history.db",
            f"serve.kserve.name={name}",
        ],
    )
    # Aliases are per environment (acc-champion, ...): give acc the roles dev's runs set.
    registry = client_for(s)
    for role, version in registry.get_registered_model(MODEL).aliases.items():
        if role in ("champion", "challenger"):
            registry.set_registered_model_alias(MODEL, alias(s, role), version)
    return s


@pytest.fixture()
def kserve(cluster_settings, emulator, operator, monkeypatch):
    deployer = KServeDeployer(cluster_settings, api_client=emulator.api_client(), poll_s=0.02)
    monkeypatch.setattr(KServeDeployer, "from_settings", classmethod(lambda cls, s: deployer))
    return deployer


def routed(operator, deployer, refs) -> dict[str, int]:
    """Version -> percent, as the played controller routes the revisions (not as onepipe's
    annotations say): revision -> its storage URI -> the registry version."""
    obj = deployer.get()
    uri_of = {
        r.name: r.uri
        for r in operator.revisions[(deployer.settings.kubernetes.namespace, deployer.name)]
    }
    version_of = {ref.source: version for version, ref in refs.items()}
    out: dict[str, int] = {}
    for route in obj["status"]["components"]["predictor"]["traffic"]:
        if route["percent"]:
            version = version_of[uri_of[route["revisionName"]]]
            out[version] = out.get(version, 0) + route["percent"]
    return out


def test_deploy_promote_rollback_against_the_api_emulator(kserve, operator, cluster_settings):
    s = cluster_settings
    refs = _refs(s, "1", "2")
    assert kserve.live() is None
    change, message = deployments.deploy(
        s, champion="1", challenger="2", canary=10, target="kserve"
    )
    assert message.startswith(f"applied InferenceService onepipe-acc/{kserve.name}: ")
    assert "2 steps (champion rolled out first)" in message and "\n" not in message
    obj = kserve.get()
    predictor = obj["spec"]["predictor"]
    assert predictor["model"]["storageUri"] == refs["2"].source  # the spec names the canary
    assert predictor["canaryTrafficPercent"] == 10
    traffic = obj["status"]["components"]["predictor"]["traffic"]
    prev = next(t for t in traffic if not t["latestRevision"])
    assert prev["tag"] == "prev" and prev["percent"] == 90
    assert routed(operator, kserve, refs) == {"1": 90, "2": 10}
    assert kserve.live() == change.state == _state("1", "2", 10)

    deployments.deploy(s, champion="1", challenger="2", canary=50, target="kserve")
    assert routed(operator, kserve, refs) == {"1": 50, "2": 50}
    revisions = operator.revisions[("onepipe-acc", kserve.name)]
    assert len(revisions) == 2  # a new share is a traffic change, not a new revision

    ref, previous, _ = deployments.promote(s, target="kserve")
    assert (str(ref.version), str(previous)) == ("2", "1")
    assert routed(operator, kserve, refs) == {"2": 100}
    assert kserve.get()["spec"]["predictor"]["canaryTrafficPercent"] == 100
    assert kserve.live() == _state("2")

    change, _ = deployments.rollback(s, target="kserve")
    assert change.state == _state("1", "2", 50)
    assert routed(operator, kserve, refs) == {"1": 50, "2": 50}
    assert kserve.live() == change.state
    assert str(resolve_model(s, f"{MODEL}@champion").version) == "1"
    assert [c.action for c in deployments.history(s, target="kserve")][:4] == [
        "rollback",
        "promote",
        "deploy",
        "deploy",
    ]
    assert {c.backend for c in deployments.history(s, target="kserve")} == {"kserve"}

    # Withdrawing the canary: the champion's rolled-out revision takes everything at once.
    deployments.deploy(s, champion="1", challenger="1", target="kserve")
    assert routed(operator, kserve, refs) == {"1": 100}
    assert kserve.get()["spec"]["predictor"]["canaryTrafficPercent"] == 0
    assert kserve.live() == _state("1")


def test_a_model_that_fails_to_load_is_refused_and_the_previous_routing_kept(
    kserve, operator, cluster_settings
):
    s = cluster_settings
    refs = _refs(s, "1", "2")
    deployments.deploy(s, champion="1", challenger="1", target="kserve")
    before = len(deployments.history(s, target="kserve"))
    FAILING[refs["2"].source] = ["MLServer: model.pkl: unpickling stack underflow"]
    with pytest.raises(DeployError) as refused:
        deployments.deploy(s, champion="1", challenger="2", canary=50, target="kserve")
    said = str(refused.value)
    assert "\n" not in said
    assert said.startswith(
        f"InferenceService onepipe-acc/{kserve.name}: credit-risk v1 50% / v2 50% failed (v2: "
    )
    assert "unpickling stack underflow" in said
    assert said.endswith("restored credit-risk v1 100%, which keeps serving")
    assert routed(operator, kserve, refs) == {"1": 100}
    assert kserve.live() == _state("1")
    assert len(deployments.history(s, target="kserve")) == before


def test_a_failed_canary_on_a_split_restores_the_split(kserve, operator, cluster_settings):
    refs = _refs(cluster_settings, "1", "2")
    kserve.apply(_state("1", "2", 10), refs)
    bad = ModelRef(MODEL, "3", "r", "file:///no/such/model", ())
    FAILING[bad.source] = ["OSError: no such file: /no/such/model/MLmodel"] * 3
    with pytest.raises(
        DeployError, match=r"v3: .*no such file.*restored credit-risk v1 90% / v2 10%"
    ):
        kserve.apply(_state("1", "3", 50), {**refs, "3": bad})
    assert routed(operator, kserve, {**refs, "3": bad}) == {"1": 90, "2": 10}
    assert kserve.live() == _state("1", "2", 10)


def test_a_failed_promote_is_undone_from_where_kserve_left_it(kserve, operator, cluster_settings):
    """While the promoted revision fails, KServe routes everything to the latest ready one
    (the canary's) and takes it as rolled out: the restore must not trust the old split."""
    refs = _refs(cluster_settings, "1", "2")
    kserve.apply(_state("1", "2", 10), refs)
    FAILING[refs["2"].source] = ["RuntimeError: out of memory"]  # this revision only
    with pytest.raises(DeployError, match=r"out of memory.*restored credit-risk v1 90% / v2 10%"):
        kserve.apply(_state("2"), refs)
    assert routed(operator, kserve, refs) == {"1": 90, "2": 10}
    assert kserve.live() == _state("1", "2", 10)


def test_a_revision_that_never_gets_ready_times_out_and_is_undone(
    kserve, operator, cluster_settings
):
    kserve_cfg = cluster_settings.serve.kserve.model_copy(update={"ready_timeout_s": 0.3})
    serve = cluster_settings.serve.model_copy(update={"kserve": kserve_cfg})
    kserve.settings = cluster_settings.model_copy(update={"serve": serve})
    refs = _refs(cluster_settings, "1", "2")
    kserve.apply(_state("1"), refs)
    operator.stalled.add(refs["2"].source)
    try:
        with pytest.raises(DeployError) as refused:
            kserve.apply(_state("1", "2", 50), refs)
        # Meanwhile Knative sent the canary's share to the latest ready revision: v1.
    finally:
        operator.stalled.clear()
    said = str(refused.value)
    assert "v2 not ready and routed after 0.3s" in said and "RevisionMissing" in said
    assert said.endswith("restored credit-risk v1 100%, which keeps serving")
    assert routed(operator, kserve, refs) == {"1": 100}
    assert kserve.live() == _state("1")


def test_what_kserve_cannot_do_is_refused_before_anything_is_written(kserve, cluster_settings):
    s = cluster_settings
    refs = _refs(s, "1", "2")
    for state, says in (
        (DeploymentState(MODEL, "1", "2", 0, shadow=True), "no shadow routing"),
        (DeploymentState(MODEL, "1", "2", 10, sticky=True), "no sticky routing"),
    ):
        with pytest.raises(DeployError, match=f"{says}.*nothing applied"):
            kserve.apply(state, refs)
    proxied = ModelRef(MODEL, "1", "r", "mlflow-artifacts:/1/r/artifacts/model", ())
    with pytest.raises(DeployError, match="'mlflow-artifacts:/1/r/artifacts/model' is not a URI"):
        kserve.apply(_state("1"), {"1": proxied})
    assert kserve.get() is None


def test_live_is_what_the_status_routes_not_what_the_spec_asks(kserve, operator, cluster_settings):
    s = cluster_settings
    refs = _refs(s, "1", "2")
    kserve.apply(_state("1", "2", 10), refs)
    obj = kserve.get()
    # Someone routes by hand (a route to a revision onepipe did not roll out).
    traffic = copy.deepcopy(obj["status"]["components"]["predictor"]["traffic"])
    traffic[1]["revisionName"] = "someone-elses-revision"
    kserve.resources.patch(
        kserve.name, {"status": {"components": {"predictor": {"traffic": traffic}}}}, status=True
    )
    assert kserve.live() is None
    kserve.apply(_state("1", "2", 10), refs)  # applying again makes it true again
    assert kserve.live() == _state("1", "2", 10)


# ---- the CLI and `onepipe up`, through the registry line --------------------------------------
@pytest.fixture()
def kserve_project(project, tmp_path):
    """The project with its dev environment choosing kserve (in namespace onepipe-dev)."""
    cfg = yaml.safe_load((project / "onepipe.yaml").read_text())
    dev = {"backends": {"serve": "kserve"}, "kubernetes": {"namespace": "onepipe-dev"}}
    cfg["environments"]["dev"] = dev
    cfg["serve"]["history_url"] = f".onepipe/{tmp_path.name}-history.db"
    (project / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    yield project
    cfg["environments"]["dev"] = {}
    cfg["serve"]["history_url"] = ".onepipe/deployments.db"
    (project / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_the_cli_deploys_an_environment_that_chooses_kserve(
    cli, kserve_project, emulator, operator, monkeypatch, tmp_path
):
    kubeconfig = str(emulator.kubeconfig(tmp_path / "kubeconfig"))
    monkeypatch.setenv("KUBECONFIG", kubeconfig)
    monkeypatch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", kubeconfig)
    res = cli("deploy", "--env", "dev", "--canary", "20", "--json", cwd=kserve_project)
    assert res.code == 0, res.err
    change = json.loads(res.out)
    assert (change["backend"], change["weights"]) == ("kserve", {"1": 80, "2": 20})
    assert change["message"].startswith("applied InferenceService onepipe-dev/credit-risk: ")
    res = cli("history", "--env", "dev", "--target", "kserve", "--json", cwd=kserve_project)
    assert res.code == 0 and json.loads(res.out)[0]["id"] == change["id"]
    res = cli("deploy", "--env", "dev", "--target", "cluster", "--canary", "20", cwd=kserve_project)
    assert res.code == 0 and "onepipe-dev/credit-risk" in res.err  # cluster means kserve here

    res = cli("up", "--env", "dev", "--dry-run", "--json", cwd=kserve_project)
    assert res.code == 0, res.err
    kinds = {o["kind"] for o in json.loads(res.out)}
    assert "InferenceService" in kinds and "SeldonDeployment" not in kinds


def test_up_and_overlays_hold_the_inferenceservice_where_kserve_is_chosen(kserve_project):
    from onepipe.config import load_settings

    def settings(env):
        return load_settings(kserve_project / "onepipe.yaml", env=env, user="anonymous")

    files = [m.file for m in environment_manifests(settings("dev"))]
    assert files == ["experiment.yaml", "inferenceservice.yaml", "pachyderm-pipeline.yaml"]
    assert "inferenceservice.yaml" not in [m.file for m in environment_manifests(settings("acc"))]
    rendered = {f.path.as_posix(): f.text for f in render_overlay(settings("dev"))}
    kustomization = yaml.safe_load(rendered["overlays/dev/kustomization.yaml"])
    assert "inferenceservice.yaml" in kustomization["resources"]
    (isvc,) = yaml.safe_load_all(rendered["overlays/dev/inferenceservice.yaml"])
    validate(isvc)

    with Emulator() as emu:  # an emulator of its own: no controller acts on what `up` writes
        objects = environment_objects(settings("dev"))
        first = apply_objects(emu.api_client(), objects)
        assert {d["action"] for d in first} == {"created"}
        stored = client.CustomObjectsApi(emu.api_client()).get_namespaced_custom_object(
            GROUP, "v1beta1", "onepipe-dev", PLURAL, "credit-risk"
        )
        assert stored["spec"]["predictor"]["model"]["modelFormat"] == {"name": "mlflow"}


# ---- the request logger's events ----------------------------------------------------------------
def _headers(kind, request_id="req-1", version=None, encode=False, **extra):
    headers = {
        "ce-id": request_id,
        "ce-type": kind,
        "ce-specversion": "1.0",
        "ce-source": "http://credit-risk-predictor-00002-deployment-6d9f/",
        "ce-time": "2026-05-01T10:00:00.123456789Z",
        "ce-inferenceservicename": MODEL,
        "ce-namespace": "default",
        "ce-component": "predictor",
        "ce-endpoint": "default",
        "content-type": "application/json",
    }
    if version is not None:
        notes = json.dumps({SERVED_VERSION: version})
        headers["ce-annotations"] = quote(notes, safe="{}:,/") if encode else notes
    return {**headers, **extra}


REQUEST_BODY = {
    "id": "client-7",
    "inputs": [
        {"name": "age", "datatype": "INT64", "shape": [2, 1], "data": [[33], [41]]},
        {"name": "purpose", "datatype": "BYTES", "shape": [2, 1], "data": ["car", "home"]},
    ],
}
RESPONSE_BODY = {
    "model_name": MODEL,
    "model_version": "2",
    "id": "client-7",
    "outputs": [{"name": "predict", "datatype": "INT64", "shape": [2, 1], "data": [[1], [0]]}],
}


def test_logged_events_become_records_of_the_version_that_answered(project):
    s = load(project)
    history = open_history(s)
    to_record = intake(s).to_record
    assert intake(s).path == "/api/v1/kserve"
    # Nothing filed under kserve yet: the revision's annotation still names the version.
    rec = to_record(_headers(REQUEST, version="2"), json.dumps(REQUEST_BODY).encode())
    assert (rec.model_version, rec.model_alias, rec.source) == ("2", "", "kserve")

    history.record(env="dev", backend="kserve", action="deploy", user="t",
                   state=_state("1", "2", 10), reason="canary")  # fmt: skip
    to_record = intake(s).to_record  # a fresh intake reads the history at its first event
    rec = to_record(_headers(REQUEST, version="2", encode=True), json.dumps(REQUEST_BODY).encode())
    assert (rec.request_id, rec.model_version, rec.model_alias) == ("req-1", "2", "challenger")
    assert rec.inputs == {"age": [33, 41], "purpose": ["car", "home"]} and rec.n_rows == 2
    assert rec.client_id == "client-7" and rec.model_name == MODEL
    assert rec.time == pytest.approx(1777629600.123456)
    rec = to_record(
        _headers(RESPONSE, version="1"),
        json.dumps({**RESPONSE_BODY, "model_version": "1"}).encode(),
    )
    assert (rec.model_version, rec.model_alias, rec.outputs) == ("1", "champion", [1, 0])
    # No annotation: a response names its version itself; a request cannot while two serve.
    rec = to_record(_headers(RESPONSE), json.dumps(RESPONSE_BODY).encode())
    assert (rec.model_version, rec.model_alias) == ("2", "challenger")
    with pytest.raises(IntakeError, match="ce-annotations: no onepipe.dev/model-version") as why:
        to_record(_headers(REQUEST), json.dumps(REQUEST_BODY).encode())
    assert why.value.status == 400

    history.record(env="dev", backend="kserve", action="promote", user="t",
                   state=_state("2"), reason="")  # fmt: skip
    rec = intake(s).to_record(_headers(REQUEST), json.dumps(REQUEST_BODY).encode())
    assert (rec.model_version, rec.model_alias) == ("2", "champion")  # one version serves


def test_events_the_logger_would_not_send_are_refused_naming_why(project):
    to_record = intake(load(project)).to_record
    body = json.dumps(REQUEST_BODY).encode()
    for headers, raw, says in (
        (_headers("io.seldon.serving.inference.request", version="1"), body, "ce-type: io.seldon"),
        ({k: v for k, v in _headers(REQUEST, version="1").items() if k != "ce-id"}, body, "ce-id: missing"),
        (_headers(REQUEST, version="1", **{"ce-inferenceservicename": "other"}), body, "ce-inferenceservicename: other"),
        (_headers(REQUEST, version="1", **{"ce-component": "transformer"}), body, "ce-component: transformer"),
        (_headers(REQUEST, version="1"), b"{not json", "body: not valid JSON"),
        (_headers(REQUEST, version="1"), b'{"outputs": []}', "request event without V2 'inputs'"),
        (_headers(RESPONSE, version="1"), b'{"inputs": []}', "response event without V2 'outputs'"),
    ):  # fmt: skip
        with pytest.raises(IntakeError, match=says) as refused:
            to_record(headers, raw)
        assert refused.value.status == 400 and "\n" not in refused.value.message


def test_event_times_as_go_prints_them():
    assert event_time("2026-05-01T10:00:00Z") == 1777629600.0
    assert event_time("2026-05-01T12:00:00.5+02:00") == 1777629600.5
    assert event_time("2026-05-01T10:00:00.123456789Z") == pytest.approx(1777629600.123456)
    assert (
        abs(event_time("yesterday") - time.time()) < 5 and abs(event_time(None) - time.time()) < 5
    )


def test_the_monitor_service_takes_the_events_into_the_prediction_log(project):
    """``onepipe monitor serve``'s route for this backend (the gateway mounts it too)."""
    s = load(project)
    open_history(s).record(env="dev", backend="kserve", action="deploy", user="t",
                           state=_state("1", "2", 10), reason="canary")  # fmt: skip
    monitor = Monitor(s)
    with TestClient(build_app(monitor)) as client:
        for kind, body in ((REQUEST, REQUEST_BODY), (RESPONSE, RESPONSE_BODY)):
            r = client.post("/api/v1/kserve", content=json.dumps(body),
                            headers=_headers(kind, request_id="mon-1", version="2"))  # fmt: skip
            assert r.status_code == 202, r.text
        bad = client.post("/api/v1/kserve", content=b"{}", headers=_headers("other"))
        assert bad.status_code == 400 and "ce-type" in bad.json()["error"]
        monitor.logger.flush(30)
        (rec,) = monitor.store.query(request_ids=["mon-1"])
    assert (rec.model_version, rec.model_alias, rec.source) == ("2", "challenger", "kserve")
    assert rec.inputs == {"age": [33, 41], "purpose": ["car", "home"]} and rec.outputs == [1, 0]


def test_the_schema_file_is_the_crds_one_version():
    path = Path(__file__).resolve().parents[2] / "src/onepipe/serve/kserve/schemas"
    schema = json.loads(
        gzip.decompress((path / "inferenceservice-v1beta1.schema.json.gz").read_bytes())
    )
    assert set(schema["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert (
        "canaryTrafficPercent"
        in schema["properties"]["spec"]["properties"]["predictor"]["properties"]
    )
    assert "v0.20.0" in (path / "SOURCES.md").read_text()
