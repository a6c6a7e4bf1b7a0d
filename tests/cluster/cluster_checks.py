"""Checks shared by the chart and kustomize tests: schemas for every object, pod-security rules.

Core Kubernetes kinds are validated with ``kubernetes-validate`` (the upstream
OpenAPI-derived JSON schemas, strict: unknown fields are errors). Custom
resources are validated against the schemas their cluster backends keep (Katib's
Swagger for Experiments, Seldon's CRD for SeldonDeployments ...: the backend's
``BackendManifests.validate``). The Prometheus Operator
kinds (ServiceMonitor, PrometheusRule) get a minimal structural schema written
here: apiVersion/kind/metadata and the shape of ``spec`` the chart uses.
"""

from __future__ import annotations

from typing import Any

import jsonschema
import kubernetes_validate

KUBE_VERSION = "1.30.0"  # the chart's kubeVersion is >=1.27; 1.30 is a supported middle

_NAME = {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253}
_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": _NAME,
        "namespace": _NAME,
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
    },
}
_DURATION = {"type": "string", "pattern": r"^([0-9]+(ms|s|m|h))+$"}

SERVICE_MONITOR = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "ServiceMonitor"},
        "metadata": _META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["selector", "endpoints"],
            "properties": {
                "selector": {
                    "type": "object",
                    "required": ["matchLabels"],
                    "properties": {
                        "matchLabels": {
                            "type": "object",
                            "minProperties": 1,
                            "additionalProperties": {"type": "string"},
                        }
                    },
                },
                "namespaceSelector": {
                    "type": "object",
                    "properties": {"matchNames": {"type": "array", "items": _NAME}},
                },
                "endpoints": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["port"],
                        "properties": {
                            "port": {"type": "string"},
                            "path": {"type": "string", "pattern": "^/"},
                            "interval": _DURATION,
                            "scrapeTimeout": _DURATION,
                        },
                    },
                },
            },
        },
    },
}

PROMETHEUS_RULE = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "monitoring.coreos.com/v1"},
        "kind": {"const": "PrometheusRule"},
        "metadata": _META,
        "spec": {
            "type": "object",
            "additionalProperties": False,
            "required": ["groups"],
            "properties": {
                "groups": {
                    "type": "array",
                    "minItems": 1,
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["name", "rules"],
                        "properties": {
                            "name": {"type": "string", "minLength": 1},
                            "rules": {
                                "type": "array",
                                "minItems": 1,
                                "items": {
                                    "type": "object",
                                    "additionalProperties": False,
                                    "required": ["alert", "expr", "labels", "annotations"],
                                    "properties": {
                                        "alert": {
                                            "type": "string",
                                            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
                                        },
                                        "expr": {"type": "string", "minLength": 1},
                                        "for": _DURATION,
                                        "labels": {
                                            "type": "object",
                                            "required": ["severity"],
                                            "properties": {
                                                "severity": {
                                                    "enum": ["info", "warning", "critical"]
                                                }
                                            },
                                        },
                                        "annotations": {
                                            "type": "object",
                                            "required": ["summary", "description"],
                                            "additionalProperties": {"type": "string"},
                                        },
                                    },
                                },
                            },
                        },
                    },
                }
            },
        },
    },
}

CRD_SCHEMAS = {"ServiceMonitor": SERVICE_MONITOR, "PrometheusRule": PROMETHEUS_RULE}


def validate_object(obj: dict[str, Any]) -> str:
    """Validate one rendered object; return what it was checked against (raises on a problem)."""
    kind = obj.get("kind")
    where = f"{kind} {obj.get('metadata', {}).get('name')}"
    if kind in CRD_SCHEMAS:
        errors = list(jsonschema.Draft7Validator(CRD_SCHEMAS[kind]).iter_errors(obj))
        assert not errors, f"{where}: {errors[0].json_path}: {errors[0].message}"
        return "structural schema (tests/cluster/cluster_checks.py)"
    from onepipe.k8s.manifests import validator

    check = validator(kind)
    if check is not None:  # a cluster backend's kind: the upstream schema it keeps
        check(obj)
        return f"the schema of the backend rendering {kind}"
    try:
        kubernetes_validate.validate(obj, KUBE_VERSION, strict=True)
    except kubernetes_validate.ValidationError as exc:
        path = ".".join(str(p) for p in exc.path)
        raise AssertionError(f"{where}: {path}: {exc.message}") from None
    return f"Kubernetes {KUBE_VERSION} schema (strict)"


def pod_template(obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pod spec a workload object creates, or None."""
    kind = obj.get("kind")
    spec = obj.get("spec", {})
    if kind in ("Deployment", "StatefulSet", "DaemonSet", "Job"):
        return spec["template"]["spec"]
    if kind == "CronJob":
        return spec["jobTemplate"]["spec"]["template"]["spec"]
    if kind == "Pod":
        return spec
    return None


def pod_security_violations(obj: dict[str, Any]) -> list[str]:
    """Every breach of the chart's pod rules in one workload object (empty: compliant)."""
    pod = pod_template(obj)
    if pod is None:
        return []
    name = f"{obj['kind']} {obj['metadata']['name']}"
    bad = []
    psc = pod.get("securityContext") or {}
    if psc.get("runAsNonRoot") is not True:
        bad.append(f"{name}: pod securityContext.runAsNonRoot is not true")
    if psc.get("runAsUser", 1) == 0:
        bad.append(f"{name}: pod runs as uid 0")
    if pod.get("hostNetwork") or pod.get("hostPID") or pod.get("hostIPC"):
        bad.append(f"{name}: uses a host namespace")
    mounts_needed = {"/tmp"}
    env_home = None
    long_running = obj["kind"] in ("Deployment", "StatefulSet", "DaemonSet")
    volumes = {v["name"]: v for v in pod.get("volumes") or []}
    for c in (pod.get("initContainers") or []) + pod["containers"]:
        cname = f"{name} container {c['name']}"
        sc = c.get("securityContext") or {}
        if sc.get("runAsNonRoot") is False or sc.get("runAsUser") == 0:
            bad.append(f"{cname}: runs as root")
        if sc.get("readOnlyRootFilesystem") is not True:
            bad.append(f"{cname}: readOnlyRootFilesystem is not true")
        if sc.get("allowPrivilegeEscalation") is not False:
            bad.append(f"{cname}: allowPrivilegeEscalation is not false")
        if sc.get("privileged"):
            bad.append(f"{cname}: privileged")
        caps = sc.get("capabilities") or {}
        if "ALL" not in (caps.get("drop") or []) or caps.get("add"):
            bad.append(f"{cname}: capabilities not dropped (need drop: [ALL], no add)")
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for key in ("cpu", "memory"):
                if key not in (res.get(part) or {}):
                    bad.append(f"{cname}: resources.{part}.{key} missing")
        if long_running:
            for probe in ("readinessProbe", "livenessProbe"):
                if probe not in c:
                    bad.append(f"{cname}: {probe} missing")
        mounts = {m["mountPath"]: m["name"] for m in c.get("volumeMounts") or []}
        for env in c.get("env") or []:
            if env["name"] == "HOME":
                env_home = env.get("value")
        for path in mounts_needed | ({env_home} if env_home else set()):
            vol = volumes.get(mounts.get(path, ""), {})
            if "emptyDir" not in vol:
                bad.append(f"{cname}: no writable emptyDir at {path}")
    if not long_running:
        job = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
        if not job.get("activeDeadlineSeconds"):
            bad.append(f"{name}: a batch pod needs activeDeadlineSeconds (it has no probes)")
    return bad
