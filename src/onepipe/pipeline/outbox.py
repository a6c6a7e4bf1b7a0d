"""Runs waiting to be written to MLflow, one JSON file each, written by a background process.

A fully cached `onepipe run` executes nothing, so importing MLflow and opening
its store would be most of its time. It queues its record here and returns;
a detached `python -m onepipe.pipeline.outbox DIR` writes it within seconds,
and every command that reads or writes MLflow calls ``catch_up`` where it starts
(cli/common.py, project.py), which writes what is still queued first, so lineage
and history never miss a queued run. If MLflow is unreachable the record stays
queued and the next command retries: nothing is lost.

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
import logging
import signal
import subprocess
import sys
import uuid
from contextlib import contextmanager
from pathlib import Path

from onepipe.config import Settings
from onepipe.owner_only import make_dirs, write_private
from onepipe.pipeline.record import RunRecord, replay
from onepipe.tracking import leases
from onepipe.tracking.target import TrackingTarget

WRITER_LIFETIME_S = 600


def enqueue(outbox_dir: Path, record: RunRecord) -> Path:
    # Owner-only: a record holds the tracking URI, which may carry a password.
    make_dirs(outbox_dir)
    path = outbox_dir / f"{uuid.uuid1().hex}.json"
    write_private(path, json.dumps(record.to_json(), default=str), sync=False)
    return path


def spawn_writer(outbox_dir: Path) -> None:
    """Start the background writer, detached so the command can exit now."""
    subprocess.Popen(
        [sys.executable, "-m", "onepipe.pipeline.outbox", str(outbox_dir)],
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


def drain(
    outbox_dir: str | Path, tracking_uri: str | None = None, *, wait: bool = True
) -> list[TrackingTarget]:
    """Write every queued record (for ``tracking_uri`` when given) to MLflow; returns the
    stores written to, one per record.

    ``wait=False``: return at once when another process is draining this outbox."""
    written: list[TrackingTarget] = []
    passed: set[Path] = set()  # not ours to write (another store) or unreadable

    def todo() -> list[Path]:
        return [p for p in pending(outbox_dir) if p not in passed]

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
                    written.append(record.target)
    return written


def catch_up(store: Settings | TrackingTarget) -> None:
    """Bring a tracking store current before a command reads or writes it: write the runs
    queued for it, then close the runs whose writer was killed (tracking/leases.py).

    Called once where a command starts; costs two directory listings when there is
    nothing to do. MLflow unreachable: the error is the command's, the records stay queued."""
    drain(store.outbox_dir, store.tracking_uri)
    _close_killed(store)


def _close_killed(store: Settings | TrackingTarget) -> None:
    try:
        leases.reap(store)
    except Exception:  # noqa: BLE001 - never fail a command over closing someone else's run
        pass


def main(argv: list[str]) -> int:
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    signal.alarm(WRITER_LIFETIME_S)  # its default action ends the process: bounded, whatever
    try:
        written = drain(argv[0], wait=False)
    except Exception:  # left queued; the next command that reads MLflow retries
        return 1
    # A fully cached run opens no store itself: closing the runs of killed writers is done here.
    for store in {t.tracking_uri: t for t in written}.values():
        _close_killed(store)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
