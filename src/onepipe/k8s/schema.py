"""Validate custom resources against upstream published schemas (copies in ``schemas/``).

Katib's CRD carries no field schema, so the Experiment is checked against Katib's
generated Swagger definitions. Objects are checked strictly (unknown fields are
errors): a typo in a generated manifest should fail here, not be dropped
silently by the controller. References to Kubernetes core types the file does not
contain (ObjectMeta, Container, unstructured) are accepted as any object.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

from onepipe.errors import OnepipeError

SCHEMAS = Path(__file__).resolve().parent / "schemas"


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


def validate_swagger(obj: dict[str, Any], file: str | Path, definition: str) -> None:
    """Raise ``SchemaError`` naming the first wrong field path, or return."""
    import jsonschema

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
