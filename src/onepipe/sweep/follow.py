"""Follow a JSON Lines file while another part of the process is still appending to it.

The train step writes its per-stage history this way; a trial follows it so the
sweep sees intermediate metrics during the fit. Only complete lines are read
(a writer may be caught mid-line), and the file may not exist yet at the start.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

# How often the file is checked for new lines. A boosting stage takes milliseconds
# to tens of milliseconds; checking more often would only wake the thread for nothing.
POLL_S = 0.05


def read_rows(path: Path) -> list[dict]:
    """Every row of a finished history file: JSON Lines, or one JSON list (older train steps)."""
    text = path.read_bytes()
    if text.lstrip().startswith(b"["):
        rows = json.loads(text)
        return [r for r in rows if isinstance(r, dict)] if isinstance(rows, list) else []
    return [row for line in text.splitlines() if isinstance(row := _row(line), dict)]


def _row(line: bytes) -> dict | None:
    """One JSON Lines row; anything else (a blank line, a fragment of a JSON list) is None."""
    try:
        row = json.loads(line)
    except ValueError:
        return None
    return row if isinstance(row, dict) else None


class JsonLinesFollower:
    """A background thread handing each new row of ``path`` to ``emit``, in order.

    ``stop()`` returns how many rows were emitted; after it, ``emit`` is never
    called again, so the caller can read the finished file and take it from there.
    """

    def __init__(self, path: Path, emit: Callable[[dict], None], *, poll_s: float = POLL_S):
        self.path = Path(path)
        self.emit = emit
        self.poll_s = poll_s
        self.rows = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._follow, name=f"follow {self.path.name}", daemon=True
        )
        self._handle: BinaryIO | None = None
        self._pending = b""  # the start of a line not written completely yet

    def start(self) -> JsonLinesFollower:
        self._thread.start()
        return self

    def stop(self) -> int:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        return self.rows

    def _follow(self) -> None:
        # Read, then wait: a stop that arrives meanwhile still lets this pass finish,
        # and nothing is emitted after stop() has joined.
        while True:
            self._read_new()
            if self._stop.wait(self.poll_s):
                return

    def _read_new(self) -> None:
        if self._handle is None:
            try:
                # Kept open: the file stays readable through this handle when the
                # finished step's outputs are moved into the cache.
                self._handle = self.path.open("rb")
            except FileNotFoundError:
                return
        chunk = self._handle.read()
        if not chunk:
            return
        *lines, self._pending = (self._pending + chunk).split(b"\n")
        for line in lines:
            row = _row(line)
            if row is not None:  # a history written as one JSON list is printed at the end
                self.emit(row)
                self.rows += 1
