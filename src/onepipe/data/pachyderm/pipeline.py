"""The retraining pipeline on Pachyderm: a ``CreatePipelineRequest``, checked against its schema.

The environment's overlay carries it twice (``manifests``): in a ConfigMap
(``pachyderm-pipeline.yaml``, so ``kubectl apply -k`` carries it) and as
``pachyderm-pipeline.json`` for ``pachctl create pipeline -f``.
"""

from __future__ import annotations

import json
import shlex
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from onepipe.config import Settings
from onepipe.k8s.manifests import PROJECT_CONFIGMAP, PROJECT_DIR, labels
from onepipe.k8s.schema import SchemaError

SCHEMA = Path(__file__).resolve().parent / "schemas" / "CreatePipelineRequest.schema.json"


def pipeline_name(settings: Settings) -> str:
    return f"{settings.project}-train"


def pipeline_request(settings: Settings) -> dict[str, Any]:
    """A Pachyderm ``CreatePipelineRequest``: retrain on every new commit of the data repo.

    The worker runs ``onepipe run`` on the training image with each data-ref
    param pinned to the commit Pachyderm triggered on (``$<input>_COMMIT``), so
    the MLflow run records exactly the data version it was trained on, and tagged
    ``onepipe.trigger`` = ``pachyderm-commit <repo>@<commit id>``.
    """
    repos = _data_repos(settings)
    argv = ["onepipe", "run", "--config", settings.config_file.name, "--env", settings.env]
    if settings.variant:
        argv += ["--variant", settings.variant]
    pins = []
    for key, repo in repos:
        # $<repo>_COMMIT is expanded by the shell in the worker; quote the rest.
        pins.append(f"-p {shlex.quote(f'{key}={repo}@')}${{{repo}_COMMIT}}")
    # The run says what started it (onepipe.trigger), as `onepipe watch` does for its own.
    commits = ",".join(f"{repo}@${{{repo}_COMMIT}}" for repo in sorted({r for _, r in repos}))
    trigger = f'--trigger "pachyderm-commit {commits}"'
    command = "exec " + " ".join([shlex.join(argv), *pins, trigger])
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
    validate_request(request)
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
def _schema() -> dict[str, Any]:
    return json.loads(SCHEMA.read_text())


def validate_request(request: dict[str, Any]) -> None:
    """Check a CreatePipelineRequest against Pachyderm's v2.11.6 JSON Schema (draft-04)."""
    validator = jsonschema.Draft4Validator(_schema())
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


def request_configmap(settings: Settings, request: dict[str, Any]) -> dict[str, Any]:
    """The request in a ConfigMap, so ``kubectl apply -k`` carries it."""
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": f"{request['pipeline']['name']}-pachyderm-pipeline",
            "labels": {**labels("pachyderm-pipeline"), "onepipe.io/env": settings.env},
            "annotations": {
                "onepipe.io/usage": "pachctl create pipeline -f pachyderm-pipeline.json "
                "(the same JSON as data key pipeline.json)"
            },
        },
        "data": {"pipeline.json": request_json(request)},
    }


def request_json(request: dict[str, Any]) -> str:
    """The request as ``pachctl create pipeline -f`` reads it."""
    return json.dumps(request, indent=2, sort_keys=False) + "\n"
