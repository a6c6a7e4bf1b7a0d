"""What identifies a saved file: its content, not the stamps its saving library adds.

Saving the same model twice gives different bytes. MLflow writes a fresh
``model_uuid`` and ``utc_time_created`` into ``MLmodel``; zip writers stamp each
member with the time; skops names its zip members and ``__id__`` fields after the
objects' memory addresses (``id()``) or fresh uuids. ``file_digest`` leaves those
out, so an identical retrain is recognised (same downstream cache keys, same
registered version), while anything a loader reads still counts: weights,
params, signature, shipped code, the drift profile.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from pathlib import Path
from typing import IO, Any

import yaml

MLMODEL = "MLmodel"
# Written afresh by every save or log of an MLflow model. The size is derived from the
# files, which are hashed themselves (and skops' id-named members change it).
MLMODEL_PER_SAVE_KEYS = frozenset(
    {"model_uuid", "utc_time_created", "model_id", "run_id", "artifact_path", "model_size_bytes"}
)
SKOPS_SCHEMA = "schema.json"
_ZIP_MAGIC = b"PK\x03\x04"
_CHUNK = 1 << 20


def file_digest(path: Path) -> str:
    """sha256 of a file's canonical form: an MLmodel without its per-save keys, a zip as its
    members' names and canonical bytes (a skops file with its ids renumbered), else the bytes."""
    if path.name == MLMODEL:
        return _mlmodel_digest(path.read_bytes())
    with path.open("rb") as fh:
        if fh.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC:
            fh.seek(0)
            return _zip_digest(fh)
        fh.seek(0)
        h = hashlib.sha256()
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
        return h.hexdigest()


def _member_digest(archive: zipfile.ZipFile, name: str) -> str:
    with archive.open(name) as fh:
        head = fh.read(len(_ZIP_MAGIC))
        if head == _ZIP_MAGIC:  # a zip inside the zip (an .npz inside a skops file)
            return _zip_digest(io.BytesIO(head + fh.read()))
        h = hashlib.sha256(head)
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
        return h.hexdigest()


def _mlmodel_digest(data: bytes) -> str:
    try:
        doc = yaml.safe_load(data)
    except yaml.YAMLError:
        doc = None
    if not isinstance(doc, dict):
        return hashlib.sha256(data).hexdigest()
    kept = {k: v for k, v in doc.items() if k not in MLMODEL_PER_SAVE_KEYS}
    return hashlib.sha256(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def _zip_digest(fh: IO[bytes]) -> str:
    try:
        fh.seek(0)
        with zipfile.ZipFile(fh) as archive:
            members = _member_digests(archive)
    # Starts like a zip but is not one we can read (damaged, encrypted, unknown compression).
    except (zipfile.BadZipFile, OSError, RuntimeError, NotImplementedError, EOFError):
        fh.seek(0)
        h = hashlib.sha256()
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
        return h.hexdigest()
    h = hashlib.sha256()
    for name in sorted(members):
        h.update(name.encode() + b"\0" + members[name].encode())
    return h.hexdigest()


def _member_digests(archive: zipfile.ZipFile) -> dict[str, str]:
    """{canonical member name: digest}: the zip's own metadata (times, order) left out."""
    names = [i.filename for i in archive.infolist() if not i.is_dir()]
    members: dict[str, str] = {}
    renamed: dict[str, str] = {}
    schema = _skops_schema(archive, names)
    if schema is not None:
        schema, renamed = _renumber_skops(schema)
        members[SKOPS_SCHEMA] = hashlib.sha256(json.dumps(schema).encode()).hexdigest()
    for name in names:
        if name == SKOPS_SCHEMA and schema is not None:
            continue
        members[renamed.get(name, name)] = _member_digest(archive, name)
    return members


def _skops_schema(archive: zipfile.ZipFile, names: list[str]) -> dict[str, Any] | None:
    if SKOPS_SCHEMA not in names:
        return None
    try:
        schema = json.loads(archive.read(SKOPS_SCHEMA))
    except ValueError:
        return None
    return schema if isinstance(schema, dict) and "_skops_version" in schema else None


def _renumber_skops(schema: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """The schema with ``__id__`` values numbered by first appearance and the member files
    it names renamed in the same order; returns it and {old member name: new name}.

    Which nodes share an id (one object referenced twice) is kept; the numbers are not.
    """
    ids: dict[Any, int] = {}
    files: dict[str, str] = {}

    def walk(node: Any) -> Any:
        if isinstance(node, list):
            return [walk(v) for v in node]
        if not isinstance(node, dict):
            return node
        out = {}
        for key, value in node.items():
            if key == "__id__" and isinstance(value, int | str):
                out[key] = ids.setdefault(value, len(ids))
            elif key == "file" and isinstance(value, str):
                suffix = Path(value).suffix
                out[key] = files.setdefault(value, f"member-{len(files)}{suffix}")
            else:
                out[key] = walk(value)
        return out

    return walk(schema), files
