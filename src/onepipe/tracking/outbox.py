"""Runs waiting to be written to MLflow, one JSON file each, written by a background process.

A fully cached `onepipe run` executes nothing, so importing MLflow and opening
its store would be most of its time. It queues its record here and returns;
a detached `python -m onepipe.tracking.outbox DIR` writes it within seconds,
and anything of ours that reads MLflow drains the queue first (``client_for``),
so lineage and history never miss a queued run. If MLflow is unreachable the
record stays queued and the next reader retries: nothing is lost.

The writer is the one helper process that does not die with its parent, on purpose:
its job is to outlive the command that queued the record. It stays bounded instead:
one writer per outbox at a time (a second one finds the lock taken and exits, the
first writes what was queued meanwhile), and it ends after ``WRITER_LIFETIME_S``
whatever happens (an unreachable server retrying). Killed half-way, its record is still
queued and the run it had opened is closed as KILLED later (leases.py).
"""

from __future__ import annotations

import fcntl
import json
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from onepipe.owner_only import make_dirs, write_private

_draining = False
WRITER_LIFETIME_S = 600


def enqueue(outbox_dir: Path, record) -> Path:
    # Owner-only: a record holds the tracking URI, which may carry a password.
    make_dirs(outbox_dir)
    path = outbox_dir / f"{uuid.uuid1().hex}.json"
    write_private(path, json.dumps(record.to_json(), default=str), sync=False)
    return path


def spawn_writer(outbox_dir: Path) -> None:
    """Start the background writer, detached so the command can exit now."""
    subprocess.Popen(
        [sys.executable, "-m", "onepipe.tracking.outbox", str(outbox_dir)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        close_fds=True,
    )


@contextmanager
def _locked(outbox_dir: Path, wait: bool = True):
    """Yields whether the lock is held (always True when ``wait``)."""
    outbox_dir.mkdir(parents=True, exist_ok=True)
    with open(outbox_dir / ".lock", "w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def pending(outbox_dir: str | Path) -> list[Path]:
    folder = Path(outbox_dir)
    return sorted(folder.glob("*.json")) if folder.is_dir() else []


def drain(outbox_dir: str | Path, tracking_uri: str | None = None, *, wait: bool = True) -> int:
    """Write every queued record (for ``tracking_uri`` when given) to MLflow; returns how many.

    ``wait=False``: return 0 at once when another process is draining this outbox."""
    global _draining
    if _draining or not pending(outbox_dir):
        return 0
    from onepipe.tracking.record import RunRecord, replay

    _draining = True
    written = 0
    passed: set[Path] = set()  # not ours to write (another store) or unreadable

    def todo() -> list[Path]:
        return [p for p in pending(outbox_dir) if p not in passed]

    try:
        # Listed again until nothing is new: records queued while we held the lock are ours
        # (their own writer found it taken and exited), also those queued as we let go.
        while todo():
            with _locked(Path(outbox_dir), wait) as held:
                if not held:
                    break  # another writer drains; it lists again before it ends
                while batch := todo():
                    for path in batch:
                        try:
                            record = RunRecord.from_json(json.loads(path.read_text()))
                        except (OSError, ValueError):
                            passed.add(path)
                            continue
                        if tracking_uri and record.target.tracking_uri != tracking_uri:
                            passed.add(path)
                            continue
                        replay(record)
                        path.unlink()
                        written += 1
    finally:
        _draining = False
    return written


def main(argv: list[str]) -> int:
    import logging

    logging.getLogger("mlflow").setLevel(logging.WARNING)
    signal.alarm(WRITER_LIFETIME_S)  # its default action ends the process: bounded, whatever
    try:
        drain(argv[0], wait=False)
    except Exception:  # left queued; the next command that reads MLflow retries
        return 1
    return 0


if __name__ == "__main__":
    # Run the imported module's main, not __main__'s copy: the re-entrancy guard
    # (_draining) must be the one client_for sees.
    from onepipe.tracking import outbox as _outbox

    sys.exit(_outbox.main(sys.argv[1:]))
