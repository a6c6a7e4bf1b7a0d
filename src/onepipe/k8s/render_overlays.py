"""Render ``manifests/base`` and ``manifests/overlays/<env>`` (kustomize) from the configuration.

The base holds what every environment shares: the identities trial and
predictor pods run as (ServiceAccounts, a Role, RoleBindings). Each overlay sets
the environment's namespace and adds the environment's resources, built by the
renderers the cluster backends themselves use (nothing is built twice):

* ``experiment.yaml``: the Katib ConfigMap + Experiment (``sweep.katib.experiment``),
* ``seldondeployment.yaml``: the SeldonDeployment shape (``serve.seldon.render``),
* ``pachyderm-pipeline.yaml``: the Pachyderm ``CreatePipelineRequest`` in a
  ConfigMap (so ``kubectl apply -k`` carries it), and the same JSON as
  ``pachyderm-pipeline.json`` for ``pachctl create pipeline -f``,
* ``project-config.yaml``: the project file in the ``onepipe-project`` ConfigMap
  the Helm chart's monitor service and drift job mount,
* ``helm-values.yaml``: the project's values for the Helm chart (``k8s.helm``), not a
  kustomize resource.

Every object (and the chart values) is checked against its schema before anything is
written. These are an environment's shared resources, so they are rendered as nobody
(``shared``): the same files whoever renders them.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from onepipe.config import Settings
from onepipe.config.schema import ENVIRONMENTS
from onepipe.k8s.schema import SCHEMAS, SchemaError, validate_swagger

TRIAL_SA = "onepipe-trial"
PREDICTOR_SA = "onepipe-predictor"
WORKLOAD_ROLE = "onepipe-workload"
PROJECT_CONFIGMAP = "onepipe-project"
PACHYDERM_SCHEMA = SCHEMAS / "pachyderm" / "CreatePipelineRequest.schema.json"
ANONYMOUS = "anonymous"  # the user of shared resources (Settings.per_user is False)
PROJECT_DIR = "/opt/onepipe"  # where the Katib trial template mounts the project file too
KUSTOMIZE_API = "kustomize.config.k8s.io/v1beta1"
HEADER = "# Rendered by `onepipe render overlays`{env}: do not edit, re-render.\n"
OVERLAY_FILES = (
    "experiment.yaml",
    "seldondeployment.yaml",
    "pachyderm-pipeline.yaml",
    "project-config.yaml",
)


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


def _labels(component: str) -> dict[str, str]:
    return {"app.kubernetes.io/part-of": "onepipe", "app.kubernetes.io/component": component}


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
    for name, component, what in (
        (TRIAL_SA, "trial", "Katib trial pods (onepipe trial)"),
        (PREDICTOR_SA, "predictor", "Seldon predictor pods (MLServer)"),
    ):
        objs.append(
            {
                "apiVersion": "v1",
                "kind": "ServiceAccount",
                "metadata": {
                    "name": name,
                    "labels": _labels(component),
                    "annotations": {"onepipe.io/used-by": what},
                },
                "automountServiceAccountToken": False,
            }
        )
    objs.append(
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "Role",
            "metadata": {"name": WORKLOAD_ROLE, "labels": _labels("rbac")},
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
                "metadata": {"name": sa, "labels": _labels(component)},
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


def katib_documents(settings: Settings) -> list[dict[str, Any]]:
    """The Katib ConfigMap and Experiment of ``onepipe render sweep``, trials as ``onepipe-trial``."""
    from onepipe.sweep.katib.experiment import SWAGGER, build_experiment, config_map

    experiment = build_experiment(settings, parent_run_id=None, pin_data=False)
    pod = experiment["spec"]["trialTemplate"]["trialSpec"]["spec"]["template"]["spec"]
    pod["serviceAccountName"] = TRIAL_SA
    validate_swagger(experiment, SWAGGER, "v1beta1.Experiment")
    return [config_map(settings, experiment["metadata"]["name"]), experiment]


def seldon_document(settings: Settings) -> dict[str, Any]:
    """The SeldonDeployment of ``manifests/seldon/<env>``, predictors as ``onepipe-predictor``."""
    from onepipe.serve.seldon.render import example_manifest

    if settings.serve.seldon.service_account is None:
        seldon = settings.serve.seldon.model_copy(update={"service_account": PREDICTOR_SA})
        serve = settings.serve.model_copy(update={"seldon": seldon})
        settings = settings.model_copy(update={"serve": serve})
    return example_manifest(settings)  # validated against the CRD schema by render()


def pipeline_name(settings: Settings) -> str:
    return f"{settings.project}-train"


def pachyderm_pipeline(settings: Settings) -> dict[str, Any]:
    """A Pachyderm ``CreatePipelineRequest``: retrain on every new commit of the data repo.

    The worker runs ``onepipe run`` on the training image with each data-ref
    param pinned to the commit Pachyderm triggered on (``$<input>_COMMIT``), so
    the MLflow run records exactly the data version it was trained on.
    """
    repos = _data_repos(settings)
    argv = ["onepipe", "run", "--config", settings.config_file.name, "--env", settings.env]
    if settings.variant:
        argv += ["--variant", settings.variant]
    pins = []
    for key, repo in repos:
        # $<repo>_COMMIT is expanded by the shell in the worker; quote the rest.
        pins.append(f"-p {shlex.quote(f'{key}={repo}@')}${{{repo}_COMMIT}}")
    command = "exec " + " ".join([shlex.join(argv), *pins])
    inputs = [
        {
            "pfs": {
                "project": settings.data.pachyderm.project,
                "name": repo,
                "repo": repo,
                "branch": settings.data.default_branch,
                "glob": "/",
            }
        }
        for repo in sorted({r for _, r in repos})
    ]
    request: dict[str, Any] = {
        "pipeline": {
            "project": {"name": settings.data.pachyderm.project},
            "name": pipeline_name(settings),
        },
        "description": (
            f"Retrain {settings.model_name} ({settings.env}) on every new commit of "
            + ", ".join(sorted({r for _, r in repos}))
        ),
        "transform": {
            "image": settings.image.training,
            "cmd": ["sh", "-c", command],
            "workingDir": PROJECT_DIR,
            "env": {"ONEPIPE_ENV": settings.env},
        },
        "input": inputs[0] if len(inputs) == 1 else {"cross": inputs},
        "parallelismSpec": {"constant": 1},
        "datumTries": 1,  # a failed training run is reported, not silently retried
        # The project file comes from the onepipe-project ConfigMap (project-config.yaml),
        # mounted into the user container (containers[0]) like the Katib trial template does.
        "podPatch": json.dumps(
            [
                {
                    "op": "add",
                    "path": "/volumes/-",
                    "value": {"name": "onepipe-project", "configMap": {"name": PROJECT_CONFIGMAP}},
                },
                {
                    "op": "add",
                    "path": "/containers/0/volumeMounts/-",
                    "value": {
                        "name": "onepipe-project",
                        "mountPath": f"{PROJECT_DIR}/{settings.config_file.name}",
                        "subPath": settings.config_file.name,
                        "readOnly": True,
                    },
                },
            ],
            separators=(",", ":"),
        ),
        "metadata": {
            "labels": {
                "onepipe.io/project": settings.project,
                "onepipe.io/env": settings.env,
            },
            "annotations": {"onepipe.io/config-hash": settings.config_hash},
        },
    }
    validate_pachyderm(request)
    return request


def _data_repos(settings: Settings) -> list[tuple[str, str]]:
    """(param, repo) for every param naming a declared data repo (``repo@ref``)."""
    declared = set(settings.data.repos)
    found = []
    for key, value in settings.params.items():
        if isinstance(value, str) and "@" in value and value.split("@", 1)[0] in declared:
            found.append((key, value.split("@", 1)[0]))
    if not found:
        raise SchemaError(
            "Pachyderm pipeline: no pipeline param names a data repo "
            f"(expected a param like data_ref: <repo>@<branch> with <repo> one of: "
            f"{', '.join(sorted(declared)) or 'none declared under data.repos'})"
        )
    return found


@lru_cache(maxsize=1)
def _pachyderm_schema() -> dict[str, Any]:
    return json.loads(PACHYDERM_SCHEMA.read_text())


def validate_pachyderm(request: dict[str, Any]) -> None:
    """Check a CreatePipelineRequest against Pachyderm's v2.11.6 JSON Schema (draft-04)."""
    import jsonschema

    validator = jsonschema.Draft4Validator(_pachyderm_schema())
    errors = sorted(validator.iter_errors(request), key=lambda e: [str(p) for p in e.path])
    name = (request.get("pipeline") or {}).get("name", "?")
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        raise SchemaError(
            f"Pachyderm pipeline {name}: {where}: {first.message} "
            "(checked against CreatePipelineRequest.schema.json, Pachyderm v2.11.6)"
        )
    transform = request.get("transform") or {}
    for field, value in (
        ("pipeline.name", name if name != "?" else None),
        ("transform.image", transform.get("image")),
        ("transform.cmd", transform.get("cmd")),
        ("input", request.get("input")),
    ):
        if not value:
            raise SchemaError(f"Pachyderm pipeline {name}: {field}: required (found nothing)")


def pachyderm_configmap(settings: Settings, request: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{request['pipeline']['name']}-pachyderm-pipeline",
            "labels": {**_labels("pachyderm-pipeline"), "onepipe.io/env": settings.env},
            "annotations": {
                "onepipe.io/usage": "pachctl create pipeline -f pachyderm-pipeline.json "
                "(the same JSON as data key pipeline.json)"
            },
        },
        "data": {"pipeline.json": _json(request)},
    }


def project_configmap(settings: Settings) -> dict[str, Any]:
    name = settings.config_file.name
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": PROJECT_CONFIGMAP,
            "labels": {**_labels("project-config"), "onepipe.io/env": settings.env},
        },
        "data": {name: settings.config_file.read_text()},
    }


# -- files ------------------------------------------------------------------------------------


def _json(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=False) + "\n"


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
    from onepipe.k8s.helm import VALUES_FILE, effective_values, values_text

    settings = shared(settings)
    env = settings.env
    effective_values(settings)  # the chart accepts the project's values (values.schema.json)
    here = Path("overlays") / env
    request = pachyderm_pipeline(settings)
    files = {
        "experiment.yaml": katib_documents(settings),
        "seldondeployment.yaml": [seldon_document(settings)],
        "pachyderm-pipeline.yaml": [pachyderm_configmap(settings, request)],
        "project-config.yaml": [project_configmap(settings)],
    }
    out = [RenderedFile(here / n, _yaml(docs, env)) for n, docs in files.items()]
    out.append(RenderedFile(here / "pachyderm-pipeline.json", _json(request)))
    out.append(RenderedFile(here / VALUES_FILE, values_text(settings)))
    kustomization = _kustomization(
        ["../../base", *OVERLAY_FILES], settings.kubernetes.namespace, env
    )
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
