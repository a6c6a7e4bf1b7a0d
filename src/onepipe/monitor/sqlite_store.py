"""The embedded prediction store: one SQLite file (WAL), one connection guarded by a lock."""

from __future__ import annotations

import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from onepipe.monitor._sql import SqlPredictionStore


class SqlitePredictionStore(SqlPredictionStore):
    mark = "?"
    real = "REAL"

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(
            self.path, timeout=30, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed batch is on disk before the journal deletes its segment.
        self._db.execute("PRAGMA synchronous=FULL")
        for stmt in self._ddl():
            self._db.execute(stmt)
        with self._tx(self._db):  # one process adds a missing column, the others see it
            have = {row[1] for row in self._db.execute("PRAGMA table_info(onepipe_predictions)")}
            self._migrate(self._db, have)

    def _conn(self) -> Any:
        return self._db

    @contextmanager
    def _tx(self, conn: Any):
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __repr__(self) -> str:
        return f"SqlitePredictionStore({str(self.path)!r})"
