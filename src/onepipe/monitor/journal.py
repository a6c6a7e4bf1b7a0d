"""The prediction log's local journal: a record is on disk before its answer goes out.

The request path appends one JSON line per event to the writer's current segment
file (``<dir>/<owner>-<seq>.seg``): one ``write`` call, no fsync, so a SIGKILL of
the process loses nothing the kernel was handed. The background writer (see
``logger.py``) moves records into the prediction store; a segment is deleted once
it is sealed (rotated or closed) and every record in it is committed there. The
writer fsyncs the open segments every ``sync_interval_s``: a power cut loses at
most the records of that last interval (the SQLite store commits with
``synchronous=FULL`` and PostgreSQL commits durably, so a deleted segment's
records are never only in a cache).

Each segment is ``flock``-ed by its owner for as long as it may still write or
delete it. Whatever is left unlocked belongs to a writer that died (or could not
reach the store): ``replay`` moves it into the store and deletes it. Replay is
idempotent because the log owns its ids: a record written twice (committed, then
killed before its segment was deleted) is the same key, upserted again with the
same values, so it is still one row.
"""

from __future__ import annotations

import fcntl
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import orjson

from onepipe.errors import ConfigError
from onepipe.monitor.protocol import PredictionRecord, PredictionStore
from onepipe.monitor.records import from_event

log = logging.getLogger("onepipe.monitor.journal")
SEGMENT_BYTES = 4 * 1024 * 1024  # rotate past this: bounds what a restart replays again
_RECORD_FIELDS = {f.name for f in fields(PredictionRecord)} - {"truth"}


def encode(item: dict[str, Any] | PredictionRecord) -> bytes:
    """One journal line: a gateway event as it is, or an already-built record, tagged."""
    if isinstance(item, PredictionRecord):
        return orjson.dumps({"record": item}, option=orjson.OPT_APPEND_NEWLINE)
    return orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE)


def decode(line: bytes) -> PredictionRecord:
    data = orjson.loads(line)
    if not isinstance(data, dict):
        raise ValueError("a journal line is not an object")
    record = data.get("record")
    if isinstance(record, dict):
        return PredictionRecord(**{k: v for k, v in record.items() if k in _RECORD_FIELDS})
    return from_event(data)


@dataclass(eq=False)
class Segment:
    path: Path
    fd: int
    appended: int = 0  # lines written (request path, under the journal's lock)
    settled: int = 0  # lines the writer is done with
    keep: bool = False  # some lines never reached the store: leave the file for a replay
    size: int = 0
    synced: int = 0  # bytes known to be on disk
    sealed: bool = False


class Journal:
    """One writer's segments in ``directory``. ``append`` is the request path; the rest
    runs on the logger's writer thread."""

    def __init__(
        self,
        directory: str | Path,
        *,
        sync_interval_s: float = 1.0,
        segment_bytes: int = SEGMENT_BYTES,
    ) -> None:
        self.directory = Path(directory)
        self.sync_interval_s = sync_interval_s
        self.segment_bytes = segment_bytes
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._seq = 0
        self._lock = threading.Lock()
        self._segments: list[Segment] = []
        self._dir_dirty = False
        self._next_sync = time.monotonic() + sync_interval_s
        self.failed = 0  # lines that could not be appended (kept in memory only)
        try:
            self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.active = self._open()
        except OSError as exc:
            raise ConfigError(
                f"monitor.journal_dir: cannot write the prediction journal in {self.directory} "
                f"({exc.strerror or exc}; expected a writable local directory)"
            ) from None

    # ---- request path -------------------------------------------------------
    def append(self, line: bytes) -> Segment | None:
        """Write one line; the segment it went to, or None when the disk refused it."""
        with self._lock:
            seg = self.active
            try:
                written = os.write(seg.fd, line)
                while written < len(line):  # a regular file writes it all unless the disk is full
                    written += os.write(seg.fd, line[written:])
            except OSError:
                self.failed += 1
                if self.failed == 1 or self.failed % 1000 == 0:
                    log.exception(
                        "prediction journal: cannot append (%d lines so far)", self.failed
                    )
                try:  # cut a partial line off, so the next line starts clean
                    os.ftruncate(seg.fd, seg.size)
                except OSError:
                    seg.keep = True  # a replay skips the torn line and keeps the rest
                return None
            seg.appended += 1
            seg.size += written
            return seg

    # ---- writer thread ------------------------------------------------------
    def settle(self, seg: Segment, n: int, *, stored: bool = True) -> None:
        """``n`` lines of ``seg`` are done: in the store, or (``stored=False``) not."""
        with self._lock:
            seg.settled += n
            if not stored:
                seg.keep = True

    def maintain(self, *, force_sync: bool = False) -> None:
        """Rotate a full segment, delete settled ones, fsync when the interval is due."""
        if self.active.size >= self.segment_bytes:
            fresh = self._open()
            with self._lock:
                self.active.sealed = True
                self.active = fresh
        now = time.monotonic()
        if force_sync or now >= self._next_sync:
            self._sync()
            self._next_sync = now + self.sync_interval_s
        for seg in [s for s in self._segments if s.sealed]:
            with self._lock:
                done = seg.settled >= seg.appended
            if not done:
                continue
            if not seg.keep:
                _unlink(seg.path)
            os.close(seg.fd)  # unlocks: a kept segment is now anyone's to replay
            self._segments.remove(seg)

    def close(self) -> None:
        """Seal everything (the writer has drained): settled segments go, the rest stay."""
        with self._lock:
            self.active.sealed = True
        self.maintain(force_sync=True)
        for seg in list(self._segments):  # lines never settled: leave them for a replay
            os.close(seg.fd)
            self._segments.remove(seg)

    @property
    def stats(self) -> dict[str, int]:
        return {
            "segments": len(self._segments),
            "bytes": sum(s.size for s in self._segments),
            "append_failed": self.failed,
        }

    # ---- internals ------------------------------------------------------------
    def _open(self) -> Segment:
        self._seq += 1
        path = self.directory / f"{self._owner}-{self._seq:06d}.seg"
        staging = path.with_suffix(".new")
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # locked before any replayer can see it
        os.rename(staging, path)
        seg = Segment(path, fd)
        self._segments.append(seg)
        self._dir_dirty = True
        return seg

    def _sync(self) -> None:
        for seg in self._segments:
            size = seg.size
            if size > seg.synced:
                try:
                    os.fdatasync(seg.fd)
                    seg.synced = size
                except OSError:
                    log.exception("prediction journal: fsync failed for %s", seg.path.name)
        if self._dir_dirty:  # a new segment's name must survive a power cut too
            self._dir_dirty = False
            fd = os.open(self.directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)


def _unlink(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def _lines(raw: bytes) -> Iterable[bytes]:
    for line in raw.split(b"\n"):
        if line.strip():
            yield line


def replay(directory: str | Path, store: PredictionStore, *, batch: int = 500) -> int:
    """Move every segment no live writer holds into ``store``, then delete it.

    Returns the records written. A line that does not parse (the torn tail a power
    cut can leave) is skipped and logged. Cheap when there is nothing to do: one
    directory listing.
    """
    folder = Path(directory)
    if not folder.is_dir():
        return 0
    total = 0
    for path in sorted(folder.glob("*.new")):  # a writer died between create and rename
        _claim(path, lambda fd, p=path: _unlink(p))
    for path in sorted(folder.glob("*.seg")):
        total += _claim(path, lambda fd, p=path: _replay_one(p, fd, store, batch)) or 0
    return total


def _claim(path: Path, action: Callable[[int], Any]) -> Any:
    """``action(fd)`` holding the segment's lock, if no live writer holds it; else None."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # a live writer's segment
        try:
            if os.stat(path).st_ino != os.fstat(fd).st_ino:
                return None  # replayed and deleted by someone else meanwhile
        except FileNotFoundError:
            return None
        return action(fd)
    finally:
        os.close(fd)


def _replay_one(path: Path, fd: int, store: PredictionStore, batch: int) -> int:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    records: list[PredictionRecord] = []
    skipped = 0
    for line in _lines(b"".join(chunks)):
        try:
            records.append(decode(line))
        except Exception:  # noqa: BLE001 - a torn or foreign line never stops the replay
            skipped += 1
    if skipped:
        log.warning("prediction journal: %s: skipped %d unreadable line(s)", path.name, skipped)
    for i in range(0, len(records), batch):
        store.write_batch(records[i : i + batch])  # raises: the segment stays for the next try
    _unlink(path)
    if records:
        log.info("prediction journal: replayed %d record(s) from %s", len(records), path.name)
    return len(records)
