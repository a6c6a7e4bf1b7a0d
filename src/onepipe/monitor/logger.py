"""A background batching writer for the prediction log.

The request path does one ``queue.put_nowait`` of the event dict the gateway
already built; a daemon thread converts events to records and writes them in
batches (``batch_size`` records, or whatever it holds after ``flush_interval_s``).
``close()`` drains the queue and writes everything before returning, so a clean
shutdown loses nothing. A full queue drops the event and counts it (``dropped``)
rather than slow the response; a failing write is retried once, then counted.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from onepipe.monitor.protocol import PredictionRecord, PredictionStore
from onepipe.monitor.records import from_event

log = logging.getLogger("onepipe.monitor.logger")
_STOP = object()


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
        self.on_records = on_records  # e.g. the Prometheus counters, off the request path
        self._queue: queue.Queue = queue.Queue(maxsize=queue_size)
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
        try:
            self._queue.put_nowait(event)
            self.submitted += 1
        except queue.Full:
            self.dropped += 1

    def submit(self, record: PredictionRecord) -> None:
        """Queue an already-built record (CloudEvents ingest)."""
        self(record)  # type: ignore[arg-type]

    # ---- writer thread ------------------------------------------------------
    def _run(self) -> None:
        pending: list[Any] = []
        deadline = time.monotonic() + self.flush_interval_s
        stop = False
        while not stop:
            timeout = max(0.0, deadline - time.monotonic())
            try:
                item = self._queue.get(timeout=timeout)
                if item is _STOP:
                    stop = True
                else:
                    pending.append(item)
                    # take whatever else is already queued without waiting
                    while len(pending) < self.batch_size:
                        item = self._queue.get_nowait()
                        if item is _STOP:
                            stop = True
                            break
                        pending.append(item)
            except queue.Empty:
                pass
            if pending and (
                stop or len(pending) >= self.batch_size or time.monotonic() >= deadline
            ):
                self._write(pending)
                pending = []
            if time.monotonic() >= deadline or not pending:
                deadline = time.monotonic() + self.flush_interval_s
        if pending:
            self._write(pending)

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
        while self.written + self.failed < target and time.monotonic() < deadline:
            time.sleep(0.01)

    def close(self, timeout: float = 60.0) -> None:
        """Drain the queue, write the rest, stop the thread. Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
        if self._thread.is_alive():
            log.error("prediction log: writer did not finish within %.0fs", timeout)

    @property
    def stats(self) -> dict[str, int]:
        return {
            "written": self.written,
            "dropped": self.dropped,
            "failed": self.failed,
            "queued": self._queue.qsize(),
        }
