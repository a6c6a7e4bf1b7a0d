"""A lock writers share and the garbage collector takes alone.

Writers (a put, a pipeline run) hold it shared for as long as they may create
something that nothing references yet: a staged blob, a cache staging folder.
``onepipe gc`` holds it exclusively while it deletes, so whatever it finds
unreferenced then is garbage, not work in progress. ``flock`` locks end with their
holder, so a killed writer never blocks gc.
"""

from __future__ import annotations

import fcntl
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _open(path: Path):
    path.parent.mkdir(parents=True, exist_ok=True)
    return open(path, "a+b")


@contextmanager
def shared(path: Path) -> Iterator[None]:
    with _open(path) as fh:
        fcntl.flock(fh, fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


@contextmanager
def exclusive(path: Path, wait_s: float) -> Iterator[bool]:
    """Yields True once no writer holds the lock, or False after ``wait_s`` seconds."""
    with _open(path) as fh:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
