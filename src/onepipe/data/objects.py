"""Content-addressed objects and durable file writes: the two things a crash must not break.

An object is a file's bytes stored under their sha256 (``objects/ab/cdef...``).
It is written under a temporary name, fsynced and renamed into place, so an
object either does not exist or holds exactly the bytes its name promises.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterable
from pathlib import Path

from onepipe.data.refs import is_sha256
from onepipe.errors import OnepipeError, UsageError

_CHUNK = 1 << 20


def fsync_dir(path: Path) -> None:
    """Make a rename inside ``path`` durable, not just the renamed file's bytes."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data``: readers and survivors of a crash see old or new, never half."""
    tmp = path.with_name(f".tmp-{path.name}-{uuid.uuid4().hex}")
    try:
        with open(tmp, "xb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_dir(path.parent)


class ObjectStore:
    def __init__(self, root: Path) -> None:
        self.root = root  # the store root; objects live in root/objects, temporaries in root/tmp

    def path(self, digest: str) -> Path:
        # Digests come from commit records: a crafted one must not name a file elsewhere.
        if not is_sha256(digest):
            raise OnepipeError(
                f"object name {str(digest)[:80]!r} is not a sha256 (a commit record was "
                "altered; run `onepipe data verify`)"
            )
        return self.root / "objects" / digest[:2] / digest[2:]

    def add(self, src: Path) -> tuple[str, int]:
        """Store a file's content once; returns (sha256, size). Identical content is not rewritten."""
        try:
            fin = open(src, "rb")
        except OSError as exc:
            raise UsageError(f"{src}: cannot read ({exc.strerror})") from None
        tmp_dir = self.root / "tmp"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        tmp = tmp_dir / f".tmp-{uuid.uuid4().hex}"
        h, size = hashlib.sha256(), 0
        try:
            # Hash while copying so the object holds exactly the bytes that were hashed,
            # even if the source changes under us.
            with fin, open(tmp, "xb") as fout:
                while chunk := fin.read(_CHUNK):
                    h.update(chunk)
                    fout.write(chunk)
                    size += len(chunk)
                digest = h.hexdigest()
                target = self.path(digest)
                if target.exists():
                    return digest, size
                fout.flush()
                os.fsync(fout.fileno())
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(tmp, target)
            return digest, size
        finally:
            tmp.unlink(missing_ok=True)

    def sync(self, digests: Iterable[str]) -> None:
        """Make the renames of freshly added objects durable before a commit names them."""
        for folder in {self.path(d).parent for d in digests}:
            fsync_dir(folder)
        fsync_dir(self.root / "objects")

    def read(self, digest: str, label: str) -> bytes:
        """The object's bytes, checked against its name; ``label`` says whose bytes in errors."""
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise OnepipeError(
                f"object {digest[:12]} of {label} is missing from the store "
                "(run `onepipe data verify`)"
            ) from None
        if hashlib.sha256(data).hexdigest() != digest:
            raise OnepipeError(
                f"object {digest[:12]} of {label} is corrupt (run `onepipe data verify`)"
            )
        return data

    def check(self, digest: str, size: int | None) -> str | None:
        """What is wrong with an object, or None when it is whole."""
        if not is_sha256(digest):
            return f"object name {digest!r} is not a sha256"
        h, n = hashlib.sha256(), 0
        try:
            with open(self.path(digest), "rb") as fh:
                while chunk := fh.read(_CHUNK):
                    h.update(chunk)
                    n += len(chunk)
        except FileNotFoundError:
            return f"object {digest[:12]} is missing"
        if h.hexdigest() != digest:
            return f"object {digest[:12]} is corrupt (content hashes to {h.hexdigest()[:12]})"
        if size is not None and n != size:
            return f"object {digest[:12]} has {n} bytes, the commit says {size}"
        return None
