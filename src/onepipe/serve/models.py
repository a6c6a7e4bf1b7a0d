"""From a registry version to what serving needs: its local files (tracking/artifacts.py)
and the input signature.

The MLflow ``MLmodel`` file is read directly (no ``mlflow`` import) so the gateway
learns the columns and types it validates against in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from onepipe.errors import NotFoundError
from onepipe.tracking.artifacts import local_path

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.tracking.registry import ModelRef


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # MLflow signature type: long, integer, double, float, string, boolean
    required: bool = True


@dataclass(frozen=True)
class ServedModel:
    """One registry version ready for MLServer: where it lives and what it takes."""

    name: str
    version: str
    run_id: str
    source: str  # the registry's artifact location
    path: Path  # local directory holding MLmodel
    columns: tuple[Column, ...]
    example: dict[str, list] | None  # column -> values, from the model's input example

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"

    @property
    def internal_name(self) -> str:
        """The name MLServer knows this version by (one MLServer serves several versions)."""
        return f"{self.name}-v{self.version}"


def read_signature(path: Path) -> tuple[Column, ...]:
    meta = yaml.safe_load((path / "MLmodel").read_text()) or {}
    raw = (meta.get("signature") or {}).get("inputs")
    if not raw:
        raise NotFoundError(
            f"{path}: the model has no input signature (expected one logged with the model)"
        )
    specs = json.loads(raw) if isinstance(raw, str) else raw
    cols = []
    for spec in specs:
        if "name" not in spec or spec.get("type") == "tensor":
            raise NotFoundError(f"{path}: expected a column-based signature, found {spec}")
        cols.append(Column(spec["name"], spec["type"], bool(spec.get("required", True))))
    return tuple(cols)


def read_example(path: Path, columns: tuple[Column, ...]) -> dict[str, list] | None:
    """The logged input example as column -> values (used for the readiness check)."""
    meta = yaml.safe_load((path / "MLmodel").read_text()) or {}
    info = meta.get("saved_input_example_info") or {}
    file = path / info.get("artifact_path", "input_example.json")
    if not file.is_file():
        return None
    data: Any = json.loads(file.read_text())
    if isinstance(data, dict) and "columns" in data and "data" in data:
        rows = data["data"]
        return {c: [row[i] for row in rows] for i, c in enumerate(data["columns"])}
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return {c.name: [row.get(c.name) for row in data] for c in columns}
    return None


def served_model(settings: Settings, ref: ModelRef) -> ServedModel:
    path = local_path(settings, ref)
    columns = read_signature(path)
    return ServedModel(
        ref.name,
        str(ref.version),
        ref.run_id,
        ref.source,
        path,
        columns,
        read_example(path, columns),
    )
