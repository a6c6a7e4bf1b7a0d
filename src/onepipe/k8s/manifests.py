"""What cluster backends add to an environment's manifests and to ``onepipe up``.

A cluster backend's registry line names a ``BackendManifests`` (its ``manifests``
hook). For each stage, the backend ``--target cluster`` means in the environment
(its chosen backend when that runs on a cluster, else the stage's first cluster
backend) renders its files into ``manifests/overlays/<env>``; ``onepipe up`` applies
the same objects. The k8s package knows no backend: it iterates the registry.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from onepipe import plugins
from onepipe.config import Settings

# The environment's shared names (manifests/base and the project ConfigMap define them).
TRIAL_SA = "onepipe-trial"  # the identity of pods that run the pipeline (trials, retraining)
PREDICTOR_SA = "onepipe-predictor"  # the identity of pods that serve models
# What each shared identity is for, as manifests/base annotates it. Worded for any backend:
# base is shared by every environment, whichever backend each one chooses.
ACCOUNT_USERS = {
    TRIAL_SA: "pods that run pipeline steps and sweep trials (onepipe trial)",
    PREDICTOR_SA: "pods of the cluster serve backend that load and serve models (MLServer)",
}
PROJECT_CONFIGMAP = "onepipe-project"  # the project file, mounted by pods that read it
PROJECT_DIR = "/opt/onepipe"  # where such pods mount it (the training image's workdir)


MANAGE = ("get", "list", "watch", "create", "update", "patch", "delete")  # objects onepipe owns
READ = ("get", "list", "watch")  # objects it follows


def rule(group: str, resources: Iterable[str], verbs: Iterable[str]) -> dict[str, list[str]]:
    """One RBAC rule for ``BackendManifests.rules``."""
    return {"apiGroups": [group], "resources": list(resources), "verbs": list(verbs)}


def managed_labels(settings: Settings) -> dict[str, str]:
    """The labels of an object onepipe writes and rewrites for a project's environment."""
    return {
        "app.kubernetes.io/managed-by": "onepipe",
        "onepipe.dev/project": settings.project,
        "onepipe.dev/env": settings.env,
    }


def labels(component: str) -> dict[str, str]:
    """The labels every onepipe object carries, naming its component."""
    return {"app.kubernetes.io/part-of": "onepipe", "app.kubernetes.io/component": component}


@dataclass(frozen=True)
class Manifest:
    """One file of ``manifests/overlays/<env>``: kustomize resources, applied by ``onepipe up``."""

    file: str  # "seldondeployment.yaml"
    objects: list[dict[str, Any]]  # each validated against its schema by the backend
    beside: Mapping[str, str] = field(default_factory=dict)  # more files, not applied: name -> text


@dataclass(frozen=True)
class BackendManifests:
    """A cluster backend's ``manifests`` hook.

    ``render(settings)`` returns its files for the environment; ``settings`` are the
    environment's shared settings (nobody's user name in them). ``kinds`` maps each
    custom kind it renders to its resource plural (the REST path ``onepipe up`` applies
    to), and ``validate(obj)`` checks an object of those kinds against the upstream
    schema the backend keeps (raising naming the first wrong field; ``render`` calls it
    too). Its pods run as the shared identities above (``TRIAL_SA``, ``PREDICTOR_SA``).
    ``rules`` are the RBAC rules onepipe's deployer identity needs to drive those objects
    (create, patch, follow): the chart's Role grants them in each environment where the
    backend is the stage's cluster backend, and nothing for backends it is not.
    """

    render: Callable[[Settings], list[Manifest]]
    kinds: Mapping[str, str] = field(default_factory=dict)
    validate: Callable[[dict[str, Any]], None] | None = None
    rules: tuple[dict[str, list[str]], ...] = ()
    # A serve backend's one object that routes the environment's traffic: (API group,
    # resource plural, name). Its deployer reads it and server-side applies it (get, patch),
    # nothing else; the canary loop's Role may do exactly that to it, by name.
    routed: Callable[[Settings], tuple[str, str, str]] | None = None


def _environment_hooks(settings: Settings) -> list[BackendManifests]:
    """The hooks of each stage's cluster backend for this environment, in registry order."""
    return [
        hook
        for line, hook in plugins.hooks("manifests")
        if plugins.target_backend(line.stage, "cluster", getattr(settings.backends, line.stage))
        == line.name
    ]


def environment_manifests(settings: Settings) -> list[Manifest]:
    """The files of each stage's cluster backend for this environment, in registry order."""
    return [manifest for hook in _environment_hooks(settings) for manifest in hook.render(settings)]


def environment_rules(settings: Settings) -> list[dict[str, list[str]]]:
    """The RBAC rules the deployer identity needs for this environment's cluster backends."""
    return [dict(rule) for hook in _environment_hooks(settings) for rule in hook.rules]


def kinds() -> dict[str, str]:
    """Custom kind -> resource plural, for every kind a registered backend renders."""
    return {k: v for _, hook in plugins.hooks("manifests") for k, v in hook.kinds.items()}


def validator(kind: str) -> Callable[[dict[str, Any]], None] | None:
    """The schema check of the backend that renders custom kind ``kind``, if any."""
    for _, hook in plugins.hooks("manifests"):
        if kind in hook.kinds:
            return hook.validate
    return None


CANARY_VERBS = ("get", "patch")  # read the routing, server-side apply the new one


def canary_rules(settings: Settings) -> list[dict[str, list[str]]]:
    """The canary loop's RBAC rules: get and patch on the object the environment's chosen
    serve backend routes traffic with, by name; none when that backend runs no such object
    (a local backend: nothing on the cluster to patch, and no loop is rendered)."""
    rules = []
    for line, hook in plugins.hooks("manifests"):
        if hook.routed is None or getattr(settings.backends, line.stage) != line.name:
            continue
        group, plural, name = hook.routed(settings)
        rules.append(
            {
                "apiGroups": [group],
                "resources": [plural],
                "resourceNames": [name],
                "verbs": list(CANARY_VERBS),
            }
        )
    return rules
