"""Check an InferenceService against KServe's v1beta1 CRD schema, strictly.

The API server prunes fields a structural schema does not declare, silently; here an
unknown field is an error naming it, so a typo in what onepipe renders fails before
anything is written. The schema is the CRD's own (``schemas/``, see its SOURCES.md).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from onepipe.k8s.schema import SchemaError, validate_crd

SCHEMA = Path(__file__).resolve().parent / "schemas" / "inferenceservice-v1beta1.schema.json.gz"
CHECKED_AGAINST = "the KServe v0.20.0 InferenceService CRD schema"


class KServeSchemaError(SchemaError):
    """A generated InferenceService does not match the CRD schema."""


def validate(obj: dict[str, Any]) -> None:
    """Raise ``KServeSchemaError`` naming the first wrong field path, or return."""
    validate_crd(obj, SCHEMA, CHECKED_AGAINST, KServeSchemaError)
