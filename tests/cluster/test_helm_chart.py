"""The packaged chart (src/onepipe/k8s/chart) rendered and linted with Helm's own engine
(helm-python-sdk, in-process).

For every environment, with the chart's values-<env>.yaml preset and this project's
manifests/overlays/<env>/helm-values.yaml on top (the two ``-f`` files of the install
command): ``helm lint --strict`` is clean, every rendered
object validates (Kubernetes schemas, or a structural schema for the Prometheus
Operator kinds), every pod keeps the security rules, and the chart's Service
names are the addresses onepipe.yaml points at. No cluster is involved.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
import yaml
from cluster_checks import pod_security_violations, pod_template, validate_object

from onepipe.config.loader import deep_merge  # helm merges -f files the same way

helm = pytest.importorskip("helm_python", reason="helm-python-sdk is not installed")

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "src" / "onepipe" / "k8s" / "chart"
ENVS = ("dev", "test", "acc", "prod")
METRICS = {
    "onepipe_requests_total",
    "onepipe_request_latency_seconds",
    "onepipe_feature_drift_psi",
    "onepipe_live_metric",
    "onepipe_canary_verdict",
    "onepipe_canary_waiting_seconds",
}


def _values(env: str) -> dict:
    preset = yaml.safe_load((CHART / f"values-{env}.yaml").read_text())
    project = yaml.safe_load((REPO / "manifests/overlays" / env / "helm-values.yaml").read_text())
    return deep_merge(preset, project)


def _settings(env: str):
    from onepipe.config import load_settings

    return load_settings(REPO / "onepipe.yaml", env=env)


def _namespace(env: str) -> str:
    ns = _settings(env).kubernetes.namespace
    return ns if ns != "default" else f"onepipe-{env}"


@pytest.fixture(scope="module")
def chart():
    c = helm.Chart.load(str(CHART))
    yield c
    c.close()


def render(chart, values: dict, namespace: str = "onepipe-dev") -> list[dict]:
    out = chart.render(values=values, name="onepipe", namespace=namespace, is_install=True)
    docs = []
    for path, text in sorted(out.items()):
        if path.endswith("NOTES.txt"):
            continue
        docs += [d for d in yaml.safe_load_all(text) if d]
    return docs


@pytest.fixture(scope="module")
def rendered(chart) -> dict[str, list[dict]]:
    return {env: render(chart, _values(env), _namespace(env)) for env in ENVS}


def by_kind(docs: list[dict], kind: str) -> list[dict]:
    return [d for d in docs if d["kind"] == kind]


@pytest.mark.parametrize("env", ENVS)
def test_lint_is_clean_in_strict_mode(env):
    report = helm.lint(str(CHART), _values(env), strict=True, namespace=_namespace(env))
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not report["errors"] and not problems, report


@pytest.mark.parametrize("env", ENVS)
def test_every_rendered_object_validates(rendered, env):
    checked = {}
    for obj in rendered[env]:
        checked[f"{obj['kind']}/{obj['metadata']['name']}"] = validate_object(obj)
    assert {"Deployment", "Service", "Role", "RoleBinding", "NetworkPolicy"} <= {
        k.split("/")[0] for k in checked
    }


@pytest.mark.parametrize("env", ENVS)
def test_every_pod_keeps_the_security_rules(rendered, env):
    workloads = [d for d in rendered[env] if pod_template(d) is not None]
    assert len(workloads) >= 2
    violations = [v for d in workloads for v in pod_security_violations(d)]
    assert violations == []


def test_the_security_check_catches_a_breach(rendered):
    """The rule check itself: a container with a writable root and no limits is reported."""
    import copy

    dep = copy.deepcopy(by_kind(rendered["dev"], "Deployment")[0])
    container = dep["spec"]["template"]["spec"]["containers"][0]
    container["securityContext"]["readOnlyRootFilesystem"] = False
    del container["resources"]["limits"]
    del container["livenessProbe"]
    found = " ".join(pod_security_violations(dep))
    assert "readOnlyRootFilesystem" in found and "limits.cpu" in found
    assert "livenessProbe" in found


@pytest.mark.parametrize("env", ENVS)
def test_services_are_where_onepipe_yaml_points(rendered, env):
    """tracking.uri and serve.seldon.monitor_url name the chart's Services (acc, prod)."""
    s = _settings(env)
    services = {d["metadata"]["name"]: d for d in by_kind(rendered[env], "Service")}
    ns = _namespace(env)
    if env in ("acc", "prod"):
        for url in (s.tracking.uri, s.serve.seldon.monitor_url):
            u = urlparse(url)
            name, url_ns = u.hostname.split(".")[:2]
            assert url_ns == ns, url
            assert name in services, f"{url}: no Service {name} in the chart"
            assert services[name]["spec"]["ports"][0]["port"] == u.port, url


def test_the_monitor_pod_listens_on_its_pod_address_explicitly(rendered):
    """monitor.host defaults to loopback; in the pod the chart passes --host 0.0.0.0."""
    for env in ENVS:
        (monitor,) = [
            d
            for d in by_kind(rendered[env], "Deployment")
            if d["metadata"]["name"].endswith("-monitor")
        ]
        command = monitor["spec"]["template"]["spec"]["containers"][0]["command"]
        assert command[:3] == ["onepipe", "monitor", "serve"]
        assert command[command.index("--host") + 1] == "0.0.0.0"


def test_mlflow_takes_credentials_from_secrets_only(rendered):
    for env in ENVS:
        (mlflow,) = [
            d
            for d in by_kind(rendered[env], "Deployment")
            if d["metadata"]["name"].endswith("mlflow")
        ]
        c = mlflow["spec"]["template"]["spec"]["containers"][0]
        env_vars = {e["name"]: e for e in c["env"]}
        for name in ("MLFLOW_BACKEND_STORE_URI", "MLFLOW_ARTIFACTS_DESTINATION"):
            assert "secretKeyRef" in env_vars[name]["valueFrom"], name
            assert f"$({name})" in c["command"]
        assert "--serve-artifacts" in c["command"]
        assert all("://" not in str(e.get("value", "")) for e in c["env"])
    for path in CHART.glob("values*.yaml"):
        for key, value in _leaves(yaml.safe_load(path.read_text())):
            assert not re.search(r"password|secret_?access|access_?key|token", key, re.I), (
                path,
                key,
            )
            assert "://" not in str(value), f"{path.name}: {key}: a URI belongs in a Secret"


def _leaves(node, prefix=""):
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _leaves(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _leaves(v, f"{prefix}[{i}]")
    else:
        yield prefix, node


def test_prometheus_operator_objects_are_gated(rendered, chart):
    for env in ENVS:
        kinds = {d["kind"] for d in rendered[env]}
        expected = env in ("acc", "prod")
        assert ("ServiceMonitor" in kinds) is expected, env
        assert ("PrometheusRule" in kinds) is expected, env
    off = render(
        chart,
        deep_merge(
            _values("dev"), {"monitor": {"enabled": False}, "prometheusRule": {"enabled": True}}
        ),
    )
    assert not by_kind(off, "ServiceMonitor")


def _metric_names(expr: str) -> set[str]:
    return {m.removesuffix("_bucket") for m in re.findall(r"\b(onepipe_[a-z_]+)", expr)}


def test_alert_rules_and_dashboard_use_the_monitoring_metrics(rendered):
    (rule,) = by_kind(rendered["prod"], "PrometheusRule")
    alerts = [r for g in rule["spec"]["groups"] for r in g["rules"]]
    used = set().union(*(_metric_names(r["expr"]) for r in alerts))
    assert used == METRICS
    assert all('namespace="onepipe-prod"' in r["expr"] for r in alerts)
    drift = next(r for r in alerts if r["alert"] == "OnepipeFeatureDrift")
    assert "{{ $labels.feature }}" in drift["annotations"]["summary"]  # left for Prometheus

    (dash_cm,) = [
        d for d in by_kind(rendered["prod"], "ConfigMap") if "dashboard" in d["metadata"]["name"]
    ]
    assert dash_cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(dash_cm["data"]["onepipe.json"])
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert set().union(*(_metric_names(e) for e in exprs)) == METRICS
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids)) and dashboard["uid"] == "onepipe-monitoring"


def _component(docs: list[dict], kind: str, component: str) -> list[dict]:
    return [
        d
        for d in by_kind(docs, kind)
        if d["metadata"]["labels"]["app.kubernetes.io/component"] == component
    ]


def test_role_is_limited_to_what_onepipe_creates(rendered):
    (role,) = _component(rendered["prod"], "Role", "deployer")
    granted = {
        (group, res): set(rule["verbs"])
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for res in rule["resources"]
    }
    assert set(granted) == {
        ("kubeflow.org", "experiments"),
        ("kubeflow.org", "trials"),
        ("kubeflow.org", "suggestions"),
        ("", "configmaps"),
        ("machinelearning.seldon.io", "seldondeployments"),
        ("machinelearning.seldon.io", "seldondeployments/status"),
        ("", "pods"),
        ("", "pods/log"),
    }
    assert granted[("", "pods")] == granted[("", "pods/log")] == {"get", "list", "watch"}
    assert all("*" not in verbs and "escalate" not in verbs for verbs in granted.values())
    assert not by_kind(rendered["prod"], "ClusterRole")
    (binding,) = _component(rendered["prod"], "RoleBinding", "deployer")
    assert binding["subjects"][0]["namespace"] == "onepipe-prod"
    # The chart's own pods run without an API token, but the canary loop's (its own Role).
    for d in rendered["prod"]:
        pod = pod_template(d)
        if pod is not None and d["metadata"]["labels"]["app.kubernetes.io/component"] != (
            "canary-loop"
        ):
            assert pod["automountServiceAccountToken"] is False
            assert pod["serviceAccountName"] != binding["subjects"][0]["name"]


@pytest.mark.parametrize("env", ENVS)
def test_canary_loop_may_patch_only_the_serving_object(rendered, env):
    """Where the environment serves through a cluster object, a CronJob runs the canary
    analysis with --auto as its own ServiceAccount, whose Role gets and patches that one
    object by name: the object the environment's deployer reads and applies."""
    from onepipe.serve.deployments import deployer_for

    docs = rendered[env]
    jobs = _component(docs, "CronJob", "canary-loop")
    deployer = deployer_for(_settings(env))
    serving = getattr(deployer, "kind", None)
    if serving is None:  # a local serve backend: nothing on the cluster to patch, no loop
        assert not jobs and not _component(docs, "Role", "canary-loop")
        return
    (job,) = jobs
    (role,) = _component(docs, "Role", "canary-loop")
    (binding,) = _component(docs, "RoleBinding", "canary-loop")
    (account,) = _component(docs, "ServiceAccount", "canary-loop")
    assert role["rules"] == [
        {
            "apiGroups": [serving.group],
            "resources": [serving.plural],
            "resourceNames": [deployer.name],
            "verbs": ["get", "patch"],
        }
    ]
    name = account["metadata"]["name"]
    assert binding["roleRef"]["name"] == role["metadata"]["name"]
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": name, "namespace": _namespace(env)}
    ]
    assert name not in {
        s["name"] for b in _component(docs, "RoleBinding", "deployer") for s in b["subjects"]
    }
    spec = job["spec"]
    assert spec["concurrencyPolicy"] == "Forbid"
    pod = spec["jobTemplate"]["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name and pod["automountServiceAccountToken"] is True
    (container,) = pod["containers"]
    max_wait = _settings(env).monitor.canary.max_wait
    assert container["command"] == [
        "onepipe", "canary", "analyze", "--auto", "--json", "--since", max_wait
    ]  # fmt: skip
    env_vars = {e["name"]: e.get("value") for e in container["env"]}
    assert env_vars["ONEPIPE_ENV"] == env and env_vars["ONEPIPE_USER"] == name


def test_every_cluster_serve_backend_names_the_object_its_deployer_patches():
    """The registry's ``routed`` hook (the loop's Role) and the deployer agree, per backend."""
    from onepipe import plugins
    from onepipe.config import load_settings
    from onepipe.k8s.manifests import canary_rules
    from onepipe.serve.deployments import deployer_for

    checked = []
    for line in plugins.lines("serve"):
        settings = load_settings(
            REPO / "onepipe.yaml", env="prod", overrides=[f"backends.serve={line.name}"]
        )
        deployer = deployer_for(settings)
        kind = getattr(deployer, "kind", None)
        rules = canary_rules(settings)
        if kind is None:
            assert rules == [], line.name
            continue
        assert [(r["apiGroups"], r["resources"], r["resourceNames"]) for r in rules] == [
            ([kind.group], [kind.plural], [deployer.name])
        ], line.name
        checked.append(line.name)
    assert len(checked) >= 2  # Seldon and KServe at least


def test_an_alert_fires_when_a_canary_waits_too_long(rendered):
    from onepipe.monitor.windows import parse_duration

    (rule,) = by_kind(rendered["prod"], "PrometheusRule")
    (alert,) = [r for g in rule["spec"]["groups"] for r in g["rules"] if "Waiting" in r["alert"]]
    limit = parse_duration(_settings("prod").monitor.canary.max_wait)
    assert alert["expr"].startswith("max(onepipe_canary_waiting_seconds{")
    assert alert["expr"].endswith(f"> {int(limit)}")


def test_network_policies_cover_every_pod(rendered):
    for env in ENVS:
        policies = by_kind(rendered[env], "NetworkPolicy")
        for d in rendered[env]:
            pod = pod_template(d)
            if pod is None:
                continue
            labels = (
                d["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
                if d["kind"] == "CronJob"
                else d["spec"]["template"]["metadata"]["labels"]
            )
            selecting = [
                p
                for p in policies
                if p["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
            ]
            assert any(p["metadata"]["name"].endswith("default-deny-ingress") for p in selecting)
            if d["kind"] == "Deployment":
                assert len(selecting) >= 2, f"{d['metadata']['name']}: no allow policy"


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"mlflow": {"existingSecret": ""}}, "/mlflow/existingSecret"),
        ({"mlflow": {"replicas": "two"}}, "'/mlflow/replicas': got string, want integer"),
        ({"environment": "staging"}, "'/environment': value must be one of"),
        ({"podSecurity": {"runAsUser": 0}}, "/podSecurity/runAsUser"),
        ({"monitor": {"servicemonitor": {"enabled": True}}}, "'servicemonitor' not allowed"),
        ({"drift": {"schedule": "hourly"}}, "/drift/schedule"),
        (
            {"canary": {"rules": [{"apiGroups": ["x"], "resources": ["y"], "verbs": ["get"]}]}},
            "resourceNames",
        ),
        (
            {
                "canary": {
                    "rules": [
                        {
                            "apiGroups": ["x"],
                            "resources": ["y"],
                            "resourceNames": ["z"],
                            "verbs": ["delete"],
                        }
                    ]
                }
            },
            "/canary/rules/0/verbs/0",
        ),
        ({"mlflow": {"resources": {"limits": {"cpu": "lots"}}}}, "/mlflow/resources/limits/cpu"),
    ],
)
def test_a_wrong_value_fails_with_a_clear_message(chart, values, message):
    with pytest.raises(helm.HelmValuesError) as exc:
        render(chart, deep_merge(_values("dev"), values))
    assert message in str(exc.value)


def test_validation_rejects_a_misspelt_field(rendered):
    import copy

    for kind in ("Deployment", "ServiceMonitor"):
        obj = copy.deepcopy(by_kind(rendered["prod"], kind)[0])
        obj["spec"]["replica"] = 2  # not a field of either kind
        with pytest.raises(AssertionError, match="replica"):
            validate_object(obj)
