"""Render ``manifests/base`` and ``manifests/overlays/<env>`` (kustomize) from the configuration.

The base holds what every environment shares: the identities trial and predictor
pods run as (ServiceAccounts, a Role, RoleBindings). Each overlay sets the
environment's namespace and adds the environment's resources:

* each stage's cluster backend's files (``k8s.manifests``: the Katib Experiment, the
  SeldonDeployment, the Pachyderm pipeline spec ...), built by the renderers the
  backends themselves use (nothing is built twice),
* ``project-config.yaml``: the project file in the ``onepipe-project`` ConfigMap
  the Helm chart's monitor service and drift job mount,
* ``helm-values.yaml``: the project's values for the Helm chart (``k8s.helm``), not a
  kustomize resource.

Every object (and the chart values) is checked against its schema before anything is
written. These are an environment's shared resources, so they are rendered as nobody
(``shared``): the same files whoever renders them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from onepipe.config import Settings
from onepipe.config.schema import ENVIRONMENTS
from onepipe.k8s.helm import VALUES_FILE, effective_values, values_text
from onepipe.k8s.manifests import (
    ACCOUNT_USERS,
    PREDICTOR_SA,
    PROJECT_CONFIGMAP,
    TRIAL_SA,
    Manifest,
    environment_manifests,
    labels,
)

WORKLOAD_ROLE = "onepipe-workload"
ANONYMOUS = "anonymous"  # the user of shared resources (Settings.per_user is False)
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
HEADER = "# Rendered by `onepipe render overlays`{env}: do not edit, re-render.\n"
PROJECT_FILE = "project-config.yaml"


@dataclass(frozen=True)
class RenderedFile:
    path: Path  # relative to the output directory
    text: str


def shared(settings: Settings) -> Settings:
    """``settings`` without the login user: shared resources (the environment's Katib
    Experiment ``<project>-<env>``) carry no one's name. A user's own sweep
    (``onepipe sweep --target cluster``) keeps the user's prefix (``sweep.naming``)."""
    if settings.user == ANONYMOUS:
        return settings
    return settings.model_copy(update={"user": ANONYMOUS})


# -- base: identities of trial and predictor pods ---------------------------------------------


def base_resources() -> list[dict[str, Any]]:
    """ServiceAccounts, one Role and its RoleBindings for trial and predictor pods.

    Neither kind of pod calls the Kubernetes API to do its work (trials talk to
    MLflow and the data store, predictors load a model the storage initializer
    fetched), so the Role grants only reading ConfigMaps (the project file) and
    the ServiceAccounts do not mount a token unless a pod asks for one. They exist
    so these pods have their own identity (image pull secrets, cloud workload
    identity for the object store) instead of ``default``.
    """
    objs: list[dict[str, Any]] = []
    for name, component in ((TRIAL_SA, "trial"), (PREDICTOR_SA, "predictor")):
        meta: dict[str, Any] = {"name": name, "labels": labels(component)}
        meta["annotations"] = {"onepipe.io/used-by": ACCOUNT_USERS[name]}
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": meta,
                "automountServiceAccountToken": False,
            }
        )
    objs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": WORKLOAD_ROLE, "labels": labels("rbac")},
            "rules": [
                {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]}
            ],
        }
    )
    for sa, component in ((TRIAL_SA, "trial"), (PREDICTOR_SA, "predictor")):
        objs.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": sa, "labels": labels(component)},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "Role",
                    "name": WORKLOAD_ROLE,
                },
                # No namespace here: kustomize's namespace transformer sets the overlay's.
                "subjects": [{"kind": "ServiceAccount", "name": sa}],
            }
        )
    return objs


# -- overlay resources ------------------------------------------------------------------------


def overlay_manifests(settings: Settings) -> list[Manifest]:
    """The environment's files: its cluster backends' (``k8s.manifests``), then the project's."""
    return [*environment_manifests(settings), Manifest(PROJECT_FILE, [project_configmap(settings)])]


def project_configmap(settings: Settings) -> dict[str, Any]:
    name = settings.config_file.name
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": PROJECT_CONFIGMAP,
            "labels": {**labels("project-config"), "onepipe.io/env": settings.env},
        },
        "data": {name: settings.config_file.read_text()},
    }


# -- files ------------------------------------------------------------------------------------


def _yaml(docs: Iterable[dict[str, Any]], env: str | None = None) -> str:
    header = HEADER.format(env=f" for env {env}" if env else "")
    return header + yaml.safe_dump_all(list(docs), sort_keys=False, width=100)


def _kustomization(resources: list[str], namespace: str | None = None, env: str | None = None):
    k: dict[str, Any] = {"apiVersion": KUSTOMIZE_API, "kind": "Kustomization"}
    if namespace:
        k["namespace"] = namespace
    k["resources"] = resources
    if env:
        k["labels"] = [{"pairs": {"onepipe.io/env": env}, "includeSelectors": False}]
    return k


def render_base() -> list[RenderedFile]:
    objs = base_resources()
    files = {"rbac.yaml": objs}
    out = [RenderedFile(Path("base") / n, _yaml(docs)) for n, docs in files.items()]
    out.append(
        RenderedFile(Path("base") / "kustomization.yaml", _yaml([_kustomization(sorted(files))]))
    )
    return out


def render_overlay(settings: Settings) -> list[RenderedFile]:
    settings = shared(settings)
    env = settings.env
    effective_values(settings)  # the chart accepts the project's values (values.schema.json)
    here = Path("overlays") / env
    manifests = overlay_manifests(settings)
    out = [RenderedFile(here / m.file, _yaml(m.objects, env)) for m in manifests]
    out += [RenderedFile(here / n, t) for m in manifests for n, t in m.beside.items()]
    out.append(RenderedFile(here / VALUES_FILE, values_text(settings)))
    resources = ["../../base", *(m.file for m in manifests)]
    kustomization = _kustomization(resources, settings.kubernetes.namespace, env)
    out.append(RenderedFile(here / "kustomization.yaml", _yaml([kustomization], env)))
    return out


def render_all(
    load: Callable[[str], Settings], envs: Iterable[str] = ENVIRONMENTS
) -> list[RenderedFile]:
    """Base plus one overlay per environment; ``load(env)`` resolves that env's settings."""
    files = render_base()
    for env in envs:
        files += render_overlay(load(env))
    return files


def write(files: Iterable[RenderedFile], out_dir: Path) -> list[Path]:
    written = []
    for f in files:
        path = out_dir / f.path
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() or path.read_text() != f.text:
            path.write_text(f.text)
        written.append(path)
    return written
