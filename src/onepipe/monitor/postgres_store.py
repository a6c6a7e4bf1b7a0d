"""The shared prediction store: PostgreSQL via psycopg 3 (batched ``executemany``)."""

from __future__ import annotations

import threading
from typing import Any

from onepipe.errors import ConfigError
from onepipe.extras import require
from onepipe.monitor._sql import SqlPredictionStore


class PostgresPredictionStore(SqlPredictionStore):
    mark = "%s"
    real = "DOUBLE PRECISION"
    add_column = "ADD COLUMN IF NOT EXISTS"  # two stores opening an old table at once

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.RLock()
        self._db: Any = None
        conn = self._conn()
        with conn.transaction():
            for stmt in self._ddl():
                conn.execute(stmt)
            have = {
                row[0]
                for row in conn.execute(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = 'onepipe_predictions' AND table_schema = current_schema()"
                )
            }
            self._migrate(conn, have)

    def _conn(self) -> Any:
        psycopg = require("psycopg", extra="postgres", what="a postgresql:// monitor.store_url")

        if self._db is None or self._db.closed:
            try:
                self._db = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
            except psycopg.OperationalError as exc:
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                raise ConfigError(
                    f"monitor.store_url: cannot connect to PostgreSQL ({first})"
                ) from None
        return self._db

    def _tx(self, conn: Any):
        return conn.transaction()

    def _executemany(self, conn: Any, sql: str, rows: list[tuple]) -> None:
        # psycopg 3 pipelines executemany: one round trip per batch, not per row.
        with conn.transaction(), conn.cursor() as cur:
            cur.executemany(sql, rows)

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()

    def __repr__(self) -> str:
        return f"PostgresPredictionStore({self.url.split('@')[-1]!r})"
