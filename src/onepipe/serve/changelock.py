"""One deployment change at a time per model: a lock that dies with its holder.

A change holds the lock from its intent to its confirmation, so an unconfirmed
intent found by someone who holds the lock belongs to a process that is gone.
Both kinds are released by the kernel or the database when the holder is killed:
an ``flock`` on a file next to a SQLite history, a session advisory lock on
PostgreSQL (its connection closes with the process).
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onepipe.serve.errors import DeployError

POLL_S = 0.1


def _busy(what: str, wait_s: float) -> DeployError:
    return DeployError(
        f"another deployment change of {what} is still running after {wait_s:.0f}s "
        "(expected it to finish first; try again when it has)"
    )


@contextmanager
def file_lock(
    path: Path, what: str, wait_s: float, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    with open(path, "a+b") as fh:
        _acquire(lambda: _try_flock(fh), what, wait_s, on_wait)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _try_flock(fh: Any) -> bool:
    try:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextmanager
def advisory_lock(
    conn: Any, key: str, what: str, wait_s: float, on_wait: Callable[[], None] | None = None
) -> Iterator[None]:
    """A PostgreSQL session lock on ``conn`` (an autocommit connection the caller closes)."""
    number = int.from_bytes(
        hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True
    )

    def attempt() -> bool:
        return bool(conn.execute("SELECT pg_try_advisory_lock(%s)", (number,)).fetchone()[0])

    _acquire(attempt, what, wait_s, on_wait)
    try:
        yield
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (number,))


def _acquire(
    attempt: Callable[[], bool], what: str, wait_s: float, on_wait: Callable[[], None] | None
) -> None:
    deadline = time.monotonic() + wait_s
    told = False
    while not attempt():
        if time.monotonic() >= deadline:
            raise _busy(what, wait_s)
        if not told and on_wait is not None:
            on_wait()
            told = True
        time.sleep(POLL_S)
