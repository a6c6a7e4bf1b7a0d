"""Garbage of the embedded data store: what killed puts leave, and what no branch reaches.

A put stages blobs before it takes its repo's lock, so a put killed half-way leaves
temporary files (``tmp/.tmp-*`` and the like) and blobs no commit names; one killed
between writing its commit and moving the branch leaves a commit no branch reaches.
Nothing else ever makes a commit unreachable: branches only move forward.

Writers (put, create_repo, create_branch) hold ``gc.lock`` shared; ``collect`` holds it
exclusively, so everything it then finds unreferenced is garbage, never a put in
progress. Kept: every commit reachable from a branch head (following parents), and
every blob such a commit names. If a head or commit cannot be read, only temporary
files are removed: what is reachable is then unknown (``onepipe data verify`` says why).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from onepipe.data.refs import is_sha256
from onepipe.lifecycle import sharedlock
from onepipe.lifecycle.swept import Swept

if TYPE_CHECKING:
    from onepipe.data.local import LocalDataStore

LOCK = "gc.lock"
TEMP_PATTERNS = ("tmp/.tmp-*", "commits/.tmp-*", "repos/*/.tmp-*", "repos/*/branches/.tmp-*")
# Cleaned at the start of every put: older than this, a temporary file belongs to no
# running put (one being written is modified continuously).
STALE_TEMP_S = 3600.0

F = TypeVar("F", bound=Callable)


def writes_store(method: F) -> F:
    """Hold the store's gc lock shared for the call (a store method that may stage data)."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with sharedlock.shared(Path(self.root) / LOCK):
            return method(self, *args, **kwargs)

    return wrapper  # type: ignore[return-value]


def remove_temp_files(root: Path, older_than: float) -> None:
    """Temporary files last modified more than ``older_than`` seconds ago (killed puts)."""
    cutoff = time.time() - older_than
    for pattern in TEMP_PATTERNS:
        for f in root.glob(pattern):
            try:
                if f.stat().st_mtime < cutoff:
                    f.unlink()
            except OSError:
                pass


def collect_store(store: LocalDataStore, *, dry_run: bool, wait_s: float) -> Swept:
    swept = Swept("data store", dry_run)
    root = Path(store.root)
    if not root.is_dir():
        return swept
    with sharedlock.exclusive(root / LOCK, wait_s) as alone:
        if not alone:
            return swept.skip(f"a put was still running after {wait_s:.0f} s; try again")
        for pattern in TEMP_PATTERNS:  # no writer runs now: every one is left over
            for f in sorted(root.glob(pattern)):
                swept.take("temp files", f)
        try:
            commits, blobs = _reachable(root)
        except _Unreadable as exc:
            return swept.skip(f"{exc}; only temp files were removed (run `onepipe data verify`)")
        for f in sorted((root / "commits").glob("*.json")):
            if f.stem not in commits:
                swept.take("unreachable commits", f)
        for f in sorted((root / "objects").glob("??/*")):
            if f.parent.name + f.name not in blobs:
                swept.take("unreferenced blobs", f)
    return swept


class _Unreadable(Exception):
    pass


def _reachable(root: Path) -> tuple[set[str], set[str]]:
    """(commit ids reachable from a branch head, blob hashes those commits name)."""
    commits: set[str] = set()
    blobs: set[str] = set()
    for branch in sorted((root / "repos").glob("*/branches/[!.]*")):
        try:
            cid: str | None = branch.read_text().strip()
        except OSError:
            cid = None
        if not is_sha256(cid):
            raise _Unreadable(f"branch {branch.parent.parent.name}@{branch.name} has no valid head")
        while cid and cid not in commits:
            try:
                record = json.loads((root / "commits" / f"{cid}.json").read_bytes())
                files = record["tree"].values()
                blobs.update(meta["hash"] for meta in files)
                parent = record.get("parent")
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                raise _Unreadable(f"commit {cid[:12]} cannot be read") from None
            commits.add(cid)
            if parent is not None and not is_sha256(parent):
                raise _Unreadable(f"commit {cid[:12]} has a bad parent")
            cid = parent
    return commits, blobs
