"""Locks that die with their holder: an ``flock`` on a file, a PostgreSQL advisory lock.

The kernel releases an ``flock`` when the holding process dies; PostgreSQL releases
a session advisory lock when its connection closes, which it does when the
process dies. So a lock found free means no live process holds it, which is what
the deployment change lock (serve/transaction.py) relies on.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onepipe.errors import OnepipeError

POLL_S = 0.1


class LockTimeout(OnepipeError):
    """Someone else held the lock for the whole wait."""

    exit_code = 1


@contextmanager
def file_lock(
    path: Path, wait_s: float, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """An exclusive ``flock`` on ``path`` (created owner-only if missing)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        _acquire(lambda: _try_flock(fd), path.name, wait_s, on_wait)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _try_flock(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def advisory_lock(
    conn: Any, key: str, wait_s: float, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """A PostgreSQL session lock on ``conn`` (an autocommit connection the caller closes)."""
    number = int.from_bytes(
        hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True
    )

    def attempt() -> bool:
        return bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (number,)).fetchone()[0])

    _acquire(attempt, key, wait_s, on_wait)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (number,))


def _acquire(
    attempt: Callable[[], bool], name: str, wait_s: float, on_wait: Callable[[], None] | None
) -> None:
    deadline = time.monotonic() + wait_s
    told = False
    while not attempt():
        if time.monotonic() >= deadline:
            raise LockTimeout(f"lock {name}: still held by another process after {wait_s:.0f}s")
        if not told and on_wait is not None:
            on_wait()
            told = True
        time.sleep(POLL_S)
