"""A background batching writer for the prediction log.

The request path appends the event to the journal (``journal.py``: one line
written to a local segment file, so a killed process loses nothing) and to a
deque: no thread wake-up per request (a ``queue.Queue`` put notifies the waiting
writer every time, which costs the response more than the append). A daemon
thread wakes every ``flush_interval_s``, or as soon as ``batch_size`` events are
waiting, converts events to records, writes them in batches and tells the
journal which lines are stored. ``close()`` drains everything before returning.
A full buffer drops the event from memory and counts it (``dropped``) rather
than slow the response; a failing write is retried once, then counted
(``failed``). Either way the journal keeps the line until a replay stores it.

The log owns its record ids: an event without ``request_id`` gets one here,
before it is journaled, so a replay keys it the same way.
"""

from __future__ import annotations

import collections
import logging
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from onepipe.monitor.journal import Journal, Segment, encode
from onepipe.monitor.protocol import PredictionRecord, PredictionStore
from onepipe.monitor.records import from_event

log = logging.getLogger("onepipe.monitor.logger")


class PredictionLogger:
    def __init__(
        self,
        store: PredictionStore,
        *,
        batch_size: int = 500,
        flush_interval_s: float = 0.5,
        queue_size: int = 100_000,
        on_records: Callable[[list[PredictionRecord]], None] | None = None,
        journal: Journal | None = None,
    ) -> None:
        self.store = store
        self.journal = journal  # None: memory only (a crash loses what is queued)
        self.batch_size = batch_size
        self.flush_interval_s = flush_interval_s
        self.queue_size = queue_size
        self.on_records = on_records  # e.g. the Prometheus counters, off the request path
        # deque.append / popleft are atomic under the GIL: one producer side, one consumer.
        self._pending: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self.submitted = 0
        self.written = 0
        self.dropped = 0
        self.failed = 0
        self._closed = False
        self._thread = threading.Thread(
            target=self._run, name="onepipe-prediction-log", daemon=True
        )
        self._thread.start()

    # ---- request path -------------------------------------------------------
    def __call__(self, event: dict[str, Any]) -> None:
        """The ``Gateway.on_response`` hook: never blocks on the store, never raises."""
        if not isinstance(event, PredictionRecord) and not event.get("request_id"):
            event["request_id"] = os.urandom(16).hex()  # as the gateway makes them
        seg = self._journal(event) if self.journal is not None else None
        waiting = len(self._pending)
        if waiting >= self.queue_size:
            self.dropped += 1
            if seg is not None:  # still on disk: a replay stores it
                self.journal.settle(seg, 1, stored=False)
            return
        self._pending.append((seg, event))
        self.submitted += 1
        if waiting + 1 == self.batch_size:  # a full batch: write it now, not at the next tick
            self._wake.set()

    def submit(self, record: PredictionRecord) -> None:
        """Queue an already-built record (CloudEvents ingest)."""
        self(record)  # type: ignore[arg-type]

    def _journal(self, item: Any) -> Segment | None:
        try:
            line = encode(item)
        except TypeError:  # not JSON (a bug of the caller's): kept in memory only
            log.exception("prediction log: cannot journal an event")
            return None
        return self.journal.append(line)

    # ---- writer thread ------------------------------------------------------
    def _run(self) -> None:
        journal = self.journal
        tick = self.flush_interval_s
        if journal is not None:  # wake for the journal's fsync too, not only to flush
            tick = min(tick, journal.sync_interval_s)
        next_flush = time.monotonic() + self.flush_interval_s
        while True:
            woken = self._wake.wait(tick)
            self._wake.clear()
            stopping = self._closed  # read before draining: what was appended before close is kept
            now = time.monotonic()
            if woken or stopping or now + 0.001 >= next_flush:
                self._drain()
                next_flush = now + self.flush_interval_s
            if journal is not None:
                try:
                    journal.maintain()
                except OSError:  # a full disk must not stop the writer; retried next tick
                    log.exception("prediction journal: maintenance failed")
            if stopping:
                self._drain()
                if journal is not None:
                    try:
                        journal.close()
                    except OSError:  # the segments stay on disk for the next replay
                        log.exception("prediction journal: close failed")
                return

    def _drain(self) -> None:
        pending = self._pending
        while pending:
            batch = []
            while pending and len(batch) < self.batch_size:
                batch.append(pending.popleft())
            self._write(batch)

    def _write(self, items: list[tuple[Segment | None, Any]]) -> None:
        records: list[PredictionRecord] = []
        lines: collections.Counter[Segment] = collections.Counter()
        for seg, item in items:
            if seg is not None:
                lines[seg] += 1
            try:
                records.append(item if isinstance(item, PredictionRecord) else from_event(item))
            except Exception:  # a malformed event never stops the log
                log.exception("prediction log: cannot convert an event")
                self.failed += 1
        stored = False
        for attempt in (0, 1):
            try:
                self.store.write_batch(records)
                self.written += len(records)
                stored = True
                break
            except Exception:
                if attempt:
                    log.exception(
                        "prediction log: %d records not stored (kept in the journal)", len(records)
                    )
                    self.failed += len(records)
                    break
                time.sleep(0.2)
        if self.journal is not None:
            for seg, n in lines.items():
                self.journal.settle(seg, n, stored=stored)
        if not stored:
            return
        if self.on_records is not None:
            try:
                self.on_records(records)
            except Exception:
                log.exception("prediction log: on_records hook failed")

    # ---- lifecycle ------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> None:
        """Wait until everything queued so far is written (tests, replay, bench)."""
        deadline = time.monotonic() + timeout
        target = self.submitted
        self._wake.set()
        while self.written + self.failed < target and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self, timeout: float = 60.0) -> None:
        """Drain the buffer, write the rest, stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("prediction log: writer did not finish within %.0fs", timeout)

    @property
    def stats(self) -> dict[str, int]:
        return {
            "written": self.written,
            "dropped": self.dropped,
            "failed": self.failed,
            "queued": len(self._pending),
        }
