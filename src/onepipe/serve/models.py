"""From a registry version to what serving needs: a local artifact path and the input signature.

The MLflow ``MLmodel`` file is read directly (no ``mlflow`` import) so the gateway
learns the columns and types it validates against in milliseconds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

import yaml

from onepipe.errors import NotFoundError, OnepipeError

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


def check_ref_names(ref: ModelRef) -> None:
    """A registry's name and version become folder names (artifact cache, MLServer's
    model dirs): refuse any that could name a folder elsewhere. MLflow refuses such
    names itself; this guards against a registry written by something else."""
    for what, value in (("name", ref.name), ("version", str(ref.version))):
        if (
            not value
            or value in (".", "..")
            or any(c in value for c in "/\\\0")
            or not value.isprintable()
        ):
            raise OnepipeError(
                f"registered model {what} {value[:80]!r} cannot be served (expected one "
                "folder name: not '.' or '..', no '/', '\\' or control characters)"
            )


def local_path(settings: Settings, ref: ModelRef) -> Path:
    """The model directory on this machine; remote artifact stores are downloaded once."""
    check_ref_names(ref)
    parts = urlsplit(ref.source)
    if parts.scheme in ("", "file"):
        path = Path(unquote(parts.path if parts.scheme else ref.source))
        if not (path / "MLmodel").is_file():
            raise NotFoundError(
                f"{ref}: model artifacts not found at {path} (expected an MLmodel file)"
            )
        return path
    dest = settings.state_dir / "serve" / "artifacts" / ref.name / str(ref.version)
    if not (dest / "MLmodel").is_file():
        import mlflow.artifacts

        from onepipe.tracking.client import client_for

        client_for(settings)  # creates the tracking dir for sqlite URIs
        dest.mkdir(parents=True, exist_ok=True)
        mlflow.artifacts.download_artifacts(
            artifact_uri=ref.uri, dst_path=str(dest), tracking_uri=settings.tracking_uri
        )
    return dest


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
