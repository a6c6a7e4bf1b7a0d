"""Validate custom resources against upstream schemas, strictly.

Two sources, each kept by the backend in its own folder (``schemas/``, with a
SOURCES.md): a CRD's own structural schema (``validate_crd``: its ``openAPIV3Schema``
as JSON, gzipped or not), or, for a CRD that carries no field schema, the project's
generated Swagger (``validate_swagger``). Objects are checked strictly (unknown fields
are errors): a typo in a generated manifest should fail here, not be pruned silently
by the API server. With Swagger, references to Kubernetes core types the file does
not contain (ObjectMeta, Container, unstructured) are accepted as any object.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema

from onepipe.errors import OnepipeError


class SchemaError(OnepipeError):
    """A generated resource does not match the upstream schema."""


@lru_cache(maxsize=8)
def _swagger_definitions(path: str) -> dict[str, Any]:
    defs = json.loads(Path(path).read_text())["definitions"]
    strict = {}
    for name, schema in defs.items():
        strict[name] = _strict(schema)
    return strict


def _strict(schema: Any) -> Any:
    if isinstance(schema, dict):
        out = {k: _strict(v) for k, v in schema.items() if k not in ("default",)}
        if (
            out.get("type") == "object"
            and "properties" in out
            and "additionalProperties" not in out
        ):
            out["additionalProperties"] = False
        return out
    if isinstance(schema, list):
        return [_strict(v) for v in schema]
    return schema


def strict_crd(node: Any) -> Any:
    """A CRD schema with ``additionalProperties: false`` on every object that lists its
    properties, except where the CRD itself keeps unknown fields; ``default`` dropped (the
    API server fills defaults in, a generated object need not carry them)."""
    if isinstance(node, list):
        return [strict_crd(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: strict_crd(value) for key, value in node.items() if key != "default"}
    keeps_unknown = node.get("x-kubernetes-preserve-unknown-fields") is True
    if out.get("properties") and "additionalProperties" not in out and not keeps_unknown:
        out["additionalProperties"] = False
    return out


@lru_cache(maxsize=8)
def _crd_validator(path: str) -> Any:
    raw = Path(path).read_bytes()
    schema = json.loads(gzip.decompress(raw) if path.endswith(".gz") else raw)
    return jsonschema.Draft7Validator(strict_crd(schema))


def validate_crd(
    obj: dict[str, Any], file: str | Path, against: str, error: type[SchemaError] = SchemaError
) -> None:
    """Raise ``error`` naming the first wrong field path of ``obj``, checked against the
    CRD schema in ``file`` (``against`` names it in the message), or return."""
    found = _crd_validator(str(file)).iter_errors(obj)
    errors = sorted(found, key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        name = (obj.get("metadata") or {}).get("name", "?")
        raise error(
            f"{obj.get('kind', 'object')} {name}: {where}: {first.message} "
            f"(checked against {against})"
        )


def validate_swagger(obj: dict[str, Any], file: str | Path, definition: str) -> None:
    """Raise ``SchemaError`` naming the first wrong field path, or return."""
    defs = dict(_swagger_definitions(str(file)))
    referenced = set()
    _collect_refs(defs, referenced)
    for missing in referenced - set(defs):
        defs[missing] = {"type": "object"}  # a Kubernetes core type this file does not define
    schema = {"$ref": f"#/definitions/{definition}", "definitions": defs}
    validator = jsonschema.Draft4Validator(schema)
    errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        where = ".".join(str(p) for p in first.absolute_path) or "(top level)"
        raise SchemaError(
            f"{obj.get('kind', 'object')} {obj.get('metadata', {}).get('name', '?')}: "
            f"{where}: {first.message} (checked against {Path(file).name} {definition})"
        )


def _collect_refs(node: Any, out: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/definitions/"):
            out.add(ref[len("#/definitions/") :])
        for value in node.values():
            _collect_refs(value, out)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, out)
