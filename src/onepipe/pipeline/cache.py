"""The step cache: outputs stored under a key of (code, params, input content, data commit).

Entries are written to a staging folder and renamed into place, so a crashed
step never leaves a half entry that a later run could mistake for a hit. An entry's
folder is touched on every hit: its mtime says when it was last used, which is what
``onepipe gc`` keeps recent entries by (pipeline/cache_gc.py). A running pipeline holds
``gc.lock`` shared (``in_use``), so gc never removes what it is using.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from onepipe.lifecycle import sharedlock
from onepipe.pipeline.identity import file_digest
from onepipe.pipeline.protocol import ArtifactRecord

META = "meta.json"
LOCK = "gc.lock"


def content_hash(path: Path, metadata: dict[str, Any] | None = None) -> str:
    """Hash of a file or a directory tree (paths + contents), plus the artifact metadata.

    Contents are canonical (``identity.file_digest``): the timestamps and ids saving
    libraries write are left out, for every artifact, since this one hash is both the
    downstream steps' cache key input and the registry's model identity.
    """
    h = hashlib.sha256()
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file()):
            h.update(str(f.relative_to(path)).encode() + b"\0")
            h.update(file_digest(f).encode())
    elif path.is_file():
        h.update(file_digest(path).encode())
    if metadata:
        h.update(json.dumps(metadata, sort_keys=True, default=str).encode())
    return h.hexdigest()


def step_key(
    component: str,
    code_hash: str,
    params: dict[str, Any],
    inputs: dict[str, str],
    context: str = "",
) -> str:
    """``context``: the key of the step context (task, label, metrics) the step may read."""
    blob = json.dumps(
        {
            "component": component,
            "code": code_hash,
            "params": params,
            "inputs": inputs,
            "context": context,
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


@dataclass
class CacheEntry:
    key: str
    outputs: dict[str, ArtifactRecord]
    source_run: str | None
    duration: float
    notes: dict[str, Any]  # what later stages learned about this output (e.g. its model version)


class StepCache:
    def __init__(self, root: Path) -> None:
        self.root = root

    def _dir(self, key: str) -> Path:
        return self.root / key[:2] / key

    @contextmanager
    def in_use(self) -> Iterator[None]:
        """Held by a running pipeline: ``onepipe gc`` waits, or leaves the cache alone."""
        with sharedlock.shared(self.root / LOCK):
            yield

    def lookup(self, key: str) -> CacheEntry | None:
        folder = self._dir(key)
        try:
            meta = json.loads((folder / META).read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        outputs = {
            name: ArtifactRecord(
                name, o["schema"], folder / "outputs" / name, o["hash"], o["metadata"]
            )
            for name, o in meta["outputs"].items()
        }
        if any(not (r.path.exists() or r.schema.endswith("Metrics")) for r in outputs.values()):
            return None  # an output was removed by hand: treat as a miss
        try:
            os.utime(folder)  # last used now (gc keeps recently used entries)
        except OSError:
            pass
        return CacheEntry(
            key, outputs, meta.get("source_run"), meta.get("duration", 0.0), meta.get("notes", {})
        )

    def staging(self) -> Path:
        path = self.root / ".staging" / uuid.uuid4().hex
        (path / "outputs").mkdir(parents=True)
        return path

    def commit(
        self, key: str, staging: Path, outputs: dict[str, ArtifactRecord], duration: float
    ) -> dict[str, ArtifactRecord]:
        """Move a finished step's outputs into the cache; returns records at their final paths."""
        final = self._dir(key)
        meta = {
            "key": key,
            "duration": duration,
            "outputs": {
                n: {"schema": r.schema, "hash": r.hash, "metadata": r.metadata}
                for n, r in outputs.items()
            },
        }
        (staging / META).write_text(json.dumps(meta, indent=1, default=str))
        final.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.rename(staging, final)
        except OSError:  # an entry for this key is there (concurrent trial, --no-cache): keep it
            shutil.rmtree(staging, ignore_errors=True)
            kept = self.lookup(key)
            if kept is not None:  # and describe its files, not the discarded ones
                return kept.outputs
        return {
            n: ArtifactRecord(n, r.schema, final / "outputs" / n, r.hash, r.metadata)
            for n, r in outputs.items()
        }

    def annotate(self, key: str, source_run: str | None = None, **notes: Any) -> None:
        """Record which tracking run produced an entry (so later hits can name it), and notes."""
        path = self._dir(key) / META
        try:
            meta = json.loads(path.read_text())
        except FileNotFoundError:
            return
        if source_run:
            meta["source_run"] = source_run
        meta.setdefault("notes", {}).update(notes)
        tmp = path.with_suffix(f".{uuid.uuid4().hex}.tmp")
        try:
            tmp.write_text(json.dumps(meta, indent=1, default=str))
            os.replace(tmp, path)
        except FileNotFoundError:  # collected meanwhile by `onepipe gc`: nothing to annotate
            tmp.unlink(missing_ok=True)

    def discard(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)
