"""A background batching writer for the prediction log.

The request path appends the event dict the gateway already built to a deque:
no lock, no thread wake-up per request (a ``queue.Queue`` put notifies the
waiting writer every time, which costs the response more than the append). A
daemon thread wakes every ``flush_interval_s``, or as soon as ``batch_size``
events are waiting, converts events to records and writes them in batches.
``close()`` drains everything before returning, so a clean shutdown loses
nothing. A full buffer drops the event and counts it (``dropped``) rather than
slow the response; a failing write is retried once, then counted.
"""

from __future__ import annotations

import collections
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

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
    ) -> None:
        self.store = store
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
        """The ``Gateway.on_response`` hook: never blocks, never raises."""
        waiting = len(self._pending)
        if waiting >= self.queue_size:
            self.dropped += 1
            return
        self._pending.append(event)
        self.submitted += 1
        if waiting + 1 == self.batch_size:  # a full batch: write it now, not at the next tick
            self._wake.set()

    def submit(self, record: PredictionRecord) -> None:
        """Queue an already-built record (CloudEvents ingest)."""
        self(record)  # type: ignore[arg-type]

    # ---- writer thread ------------------------------------------------------
    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_interval_s)
            self._wake.clear()
            stopping = self._closed  # read before draining: what was appended before close is kept
            self._drain()
            if stopping:
                self._drain()
                return

    def _drain(self) -> None:
        pending = self._pending
        while pending:
            batch = []
            while pending and len(batch) < self.batch_size:
                batch.append(pending.popleft())
            self._write(batch)

    def _write(self, items: list[Any]) -> None:
        records: list[PredictionRecord] = []
        for item in items:
            try:
                records.append(item if isinstance(item, PredictionRecord) else from_event(item))
            except Exception:  # a malformed event never stops the log
                log.exception("prediction log: cannot convert an event")
                self.failed += 1
        for attempt in (0, 1):
            try:
                self.store.write_batch(records)
                self.written += len(records)
                break
            except Exception:
                if attempt:
                    log.exception("prediction log: dropped %d records", len(records))
                    self.failed += len(records)
                    return
                time.sleep(0.2)
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
