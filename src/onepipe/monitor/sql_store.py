"""The prediction store: two tables and one upsert, in a SQLite file or PostgreSQL
(the SQL layer, onepipe.sql, holds what differs between the two).

One long-lived connection guarded by a lock: the logger's thread writes while
requests read. A connection that broke (a PostgreSQL restart) is opened again on
the next call; after ``close`` every call fails, which the prediction journal
relies on to keep what could not be written.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import orjson

from onepipe.monitor.protocol import COLUMNS, PredictionRecord
from onepipe.sql import Database

PREDICTIONS = "onepipe_predictions"
FEEDBACK = "onepipe_feedback"


def _dumps(value: Any) -> str | None:
    return None if value is None else orjson.dumps(value).decode()


def _loads(value: Any) -> Any:
    if value is None:
        return None
    return orjson.loads(value)


def record_row(r: PredictionRecord) -> tuple:
    return (
        r.request_id,
        float(r.time),
        r.model_name,
        str(r.model_version),
        r.model_alias or "",
        int(bool(r.shadow)),
        int(r.status),
        None if r.latency_ms is None else float(r.latency_ms),
        int(r.n_rows),
        _dumps(r.inputs),
        _dumps(r.outputs),
        r.source,
        r.client_id,
    )


# Columns added since the first release, with their types: an older table gets them.
ADDED_COLUMNS = {"client_id": "TEXT"}


class SqlPredictionStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.mark = db.mark
        self._lock = threading.RLock()
        self._db: Any = None
        self._closed = False
        conn = self._conn()
        with db.transaction(conn):
            for stmt in self._ddl():
                conn.execute(stmt)
        db.add_columns(conn, PREDICTIONS, ADDED_COLUMNS)

    def _conn(self) -> Any:
        """The store's connection (callers hold ``self._lock``)."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._db is None or not self.db.is_open(self._db):
            self._db = self.db.connection()
        return self._db

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._db is not None:
                self._db.close()

    def __repr__(self) -> str:
        return f"SqlPredictionStore({self.db!r})"

    def _ddl(self) -> list[str]:
        r = self.db.real
        return [
            f"""CREATE TABLE IF NOT EXISTS {PREDICTIONS} (
                request_id TEXT NOT NULL, time {r} NOT NULL, model_name TEXT NOT NULL,
                model_version TEXT NOT NULL, model_alias TEXT NOT NULL, shadow INTEGER NOT NULL,
                status INTEGER NOT NULL, latency_ms {r}, n_rows INTEGER NOT NULL,
                inputs TEXT, outputs TEXT, source TEXT NOT NULL, client_id TEXT,
                PRIMARY KEY (request_id, model_version))""",
            f"CREATE INDEX IF NOT EXISTS {PREDICTIONS}_time ON {PREDICTIONS} (time)",
            f"CREATE INDEX IF NOT EXISTS {PREDICTIONS}_rid ON {PREDICTIONS} (request_id)",
            f"""CREATE TABLE IF NOT EXISTS {FEEDBACK} (
                request_id TEXT PRIMARY KEY, time {r} NOT NULL, truth TEXT NOT NULL)""",
        ]

    def _upsert_sql(self) -> str:
        m = self.mark
        marks = ", ".join([m] * len(COLUMNS))
        fill = ", ".join(
            f"{c} = COALESCE({PREDICTIONS}.{c}, excluded.{c})"
            for c in ("inputs", "outputs", "client_id")
        )
        # A request event (inputs) and its response event (outputs, status, latency)
        # may arrive separately (Seldon's logger): the second completes the first.
        return (
            f"INSERT INTO {PREDICTIONS} ({', '.join(COLUMNS)}) VALUES ({marks}) "
            f"ON CONFLICT (request_id, model_version) DO UPDATE SET {fill}, "
            f"status = CASE WHEN excluded.outputs IS NOT NULL OR excluded.status <> 200 "
            f"THEN excluded.status ELSE {PREDICTIONS}.status END, "
            f"latency_ms = COALESCE({PREDICTIONS}.latency_ms, excluded.latency_ms), "
            f"n_rows = CASE WHEN {PREDICTIONS}.n_rows > 0 THEN {PREDICTIONS}.n_rows "
            f"ELSE excluded.n_rows END"
        )

    # ---- writes -----------------------------------------------------------
    def write_batch(self, records: list[PredictionRecord]) -> int:
        if not records:
            return 0
        rows = [record_row(r) for r in records]
        with self._lock:
            self.db.executemany(self._conn(), self._upsert_sql(), rows)
        return len(rows)

    def add_feedback(self, request_id: str, truth: list) -> bool:
        m = self.mark
        with self._lock:
            conn = self._conn()
            with self.db.transaction(conn):
                found = conn.execute(
                    f"SELECT 1 FROM {PREDICTIONS} WHERE request_id = {m} LIMIT 1", (request_id,)
                ).fetchone()
                if found is None:
                    return False
                conn.execute(
                    f"INSERT INTO {FEEDBACK} (request_id, time, truth) VALUES ({m}, {m}, {m}) "
                    f"ON CONFLICT (request_id) DO UPDATE SET time = excluded.time, "
                    f"truth = excluded.truth",
                    (request_id, time.time(), _dumps(truth)),
                )
        return True

    # ---- reads ------------------------------------------------------------
    def _where(
        self,
        model_name: str | None,
        model_version: str | None,
        since: float | None,
        until: float | None,
        request_ids: list[str] | None = None,
        include_shadow: bool = True,
    ) -> tuple[str, list]:
        m, clauses, args = self.mark, [], []
        for column, value in (("p.model_name", model_name), ("p.model_version", model_version)):
            if value is not None:
                clauses.append(f"{column} = {m}")
                args.append(str(value))
        if since is not None:
            clauses.append(f"p.time >= {m}")
            args.append(float(since))
        if until is not None:
            clauses.append(f"p.time < {m}")
            args.append(float(until))
        if request_ids is not None:
            clauses.append(f"p.request_id IN ({', '.join([m] * len(request_ids))})")
            args.extend(request_ids)
        if not include_shadow:
            clauses.append("p.shadow = 0")
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", args

    def query(
        self,
        *,
        model_name: str | None = None,
        model_version: str | None = None,
        since: float | None = None,
        until: float | None = None,
        request_ids: list[str] | None = None,
        include_shadow: bool = True,
        limit: int | None = None,
    ) -> list[PredictionRecord]:
        if request_ids is not None and not request_ids:
            return []
        where, args = self._where(
            model_name, model_version, since, until, request_ids, include_shadow
        )
        cols = ", ".join(f"p.{c}" for c in COLUMNS)
        sql = (
            f"SELECT {cols}, f.truth FROM {PREDICTIONS} p "
            f"LEFT JOIN {FEEDBACK} f ON f.request_id = p.request_id{where} ORDER BY p.time DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._lock:
            rows = self._conn().execute(sql, args).fetchall()
        out = []
        for row in reversed(rows):
            rec = PredictionRecord(
                request_id=row[0],
                time=float(row[1]),
                model_name=row[2],
                model_version=row[3],
                model_alias=row[4],
                shadow=bool(row[5]),
                status=int(row[6]),
                latency_ms=None if row[7] is None else float(row[7]),
                n_rows=int(row[8]),
                inputs=_loads(row[9]),
                outputs=_loads(row[10]),
                source=row[11],
                client_id=row[12],
            )
            rec.truth = _loads(row[13])
            out.append(rec)
        return out

    def window(
        self, *, model_name: str | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        """Light columns only (no inputs): what live metrics and canary analysis read."""
        where, args = self._where(model_name, None, since, None)
        sql = (
            f"SELECT p.model_name, p.model_version, p.model_alias, p.shadow, p.status, "
            f"p.latency_ms, p.n_rows, p.outputs, f.truth, p.time FROM {PREDICTIONS} p "
            f"LEFT JOIN {FEEDBACK} f ON f.request_id = p.request_id{where}"
        )
        with self._lock:
            rows = self._conn().execute(sql, args).fetchall()
        return [
            {
                "model_name": r[0],
                "model_version": r[1],
                "model_alias": r[2],
                "shadow": bool(r[3]),
                "status": int(r[4]),
                "latency_ms": r[5],
                "n_rows": int(r[6]),
                "outputs": _loads(r[7]) if r[8] is not None else None,
                "truth": _loads(r[8]),
                "time": float(r[9]),
            }
            for r in rows
        ]

    def count(self) -> int:
        with self._lock:
            return int(self._conn().execute(f"SELECT COUNT(*) FROM {PREDICTIONS}").fetchone()[0])
