"""Deployment history: every routing change with time, user, versions, weights and reason.

One table, ``onepipe_deployments``, behind a tiny interface: SQLite for a laptop
(a path in ``serve.history_url``), PostgreSQL for a shared setup (a
``postgresql://`` URL). Rows are append-only; ``id`` is the number ``rollback --to``
takes.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from onepipe.errors import ConfigError, NotFoundError
from onepipe.extras import require
from onepipe.serve.state import DeploymentState

if TYPE_CHECKING:
    from onepipe.config import Settings

TABLE = "onepipe_deployments"
COLUMNS = (
    "time",
    "env",
    "backend",
    "action",
    "user_name",
    "model",
    "champion",
    "challenger",
    "canary",
    "shadow",
    "sticky",
    "reason",
)
_DDL_COLUMNS = """
    time TEXT NOT NULL,
    env TEXT NOT NULL,
    backend TEXT NOT NULL,
    action TEXT NOT NULL,
    user_name TEXT NOT NULL,
    model TEXT NOT NULL,
    champion TEXT NOT NULL,
    challenger TEXT,
    canary INTEGER NOT NULL,
    shadow INTEGER NOT NULL,
    sticky INTEGER NOT NULL,
    reason TEXT NOT NULL
"""


@dataclass(frozen=True)
class Change:
    id: int
    time: str
    env: str
    backend: str
    action: str  # serve | deploy | promote | rollback
    user: str
    state: DeploymentState
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "time": self.time,
            "env": self.env,
            "backend": self.backend,
            "action": self.action,
            "user": self.user,
            **self.state.to_dict(),
            "weights": self.state.weights,
            "reason": self.reason,
        }


class HistoryStore(Protocol):
    mark: str  # the SQL placeholder
    id_column: str  # an auto-numbered primary key column, in the engine's words

    def record(
        self, *, env: str, backend: str, action: str, user: str, state: DeploymentState, reason: str
    ) -> Change: ...

    def list(self, *, env: str, backend: str, model: str, limit: int | None = None) -> list[Change]:
        """Newest first."""
        ...

    def get(self, change_id: int, *, env: str, backend: str, model: str) -> Change: ...

    # For deployment changes as transactions (serve/intents.py, serve/transaction.py):
    def connect(self) -> AbstractContextManager[Any]: ...

    def atomic(self, conn: Any) -> AbstractContextManager[None]: ...

    def insert(
        self,
        conn: Any,
        *,
        env: str,
        backend: str,
        action: str,
        user: str,
        state: DeploymentState,
        reason: str,
    ) -> Change: ...

    def lock(
        self, key: str, what: str, wait_s: float, on_wait: Callable[[], None] | None = None
    ) -> AbstractContextManager[None]: ...


class _SqlHistory:
    """Shared SQL for both engines; subclasses provide ``_connect`` and the placeholder."""

    mark = "?"
    ddl = ""
    id_column = ""  # an auto-numbered primary key, in this engine's words

    def _connect(self) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def connect(self) -> Any:
        return self._connect()

    def _ensure(self) -> None:
        with self._connect() as conn:
            conn.execute(self.ddl)

    def record(
        self, *, env: str, backend: str, action: str, user: str, state: DeploymentState, reason: str
    ) -> Change:
        with self._connect() as conn:
            return self.insert(
                conn, env=env, backend=backend, action=action, user=user, state=state, reason=reason
            )

    def insert(
        self,
        conn: Any,
        *,
        env: str,
        backend: str,
        action: str,
        user: str,
        state: DeploymentState,
        reason: str,
    ) -> Change:
        """Append one row on ``conn`` (inside the caller's transaction, if it opened one)."""
        now = datetime.now(UTC).isoformat(timespec="milliseconds")
        values = (
            now,
            env,
            backend,
            action,
            user,
            state.model,
            state.champion,
            state.challenger,
            int(state.canary),
            int(state.shadow),
            int(state.sticky),
            reason,
        )
        marks = ", ".join([self.mark] * len(COLUMNS))
        sql = f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks}) RETURNING id"
        row = conn.execute(sql, values).fetchone()
        return _row_to_change((row[0], *values))

    def list(self, *, env: str, backend: str, model: str, limit: int | None = None) -> list[Change]:
        m = self.mark
        sql = (
            f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} "
            f"WHERE env = {m} AND backend = {m} AND model = {m} ORDER BY id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._connect() as conn:
            rows = conn.execute(sql, (env, backend, model)).fetchall()
        return [_row_to_change(r) for r in rows]

    def get(self, change_id: int, *, env: str, backend: str, model: str) -> Change:
        m = self.mark
        sql = (
            f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} "
            f"WHERE id = {m} AND env = {m} AND backend = {m} AND model = {m}"
        )
        with self._connect() as conn:
            row = conn.execute(sql, (int(change_id), env, backend, model)).fetchone()
        if row is None:
            ids = [c.id for c in self.list(env=env, backend=backend, model=model, limit=20)]
            known = ", ".join(map(str, ids)) if ids else "none recorded"
            raise NotFoundError(
                f"deployment change {change_id}: not found for {model} "
                f"({backend}, env {env}; recent: {known})"
            )
        return _row_to_change(row)


class SqliteHistory(_SqlHistory):
    mark = "?"
    id_column = "id INTEGER PRIMARY KEY AUTOINCREMENT"
    ddl = f"CREATE TABLE IF NOT EXISTS {TABLE} ({id_column}, {_DDL_COLUMNS})"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._ensure()

    def _connect(self) -> Any:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        conn.execute("PRAGMA journal_mode=WAL")
        return _Closing(conn)

    @contextmanager
    def atomic(self, conn: Any) -> Iterator[None]:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def lock(
        self, key: str, what: str, wait_s: float, on_wait: Callable[[], None] | None = None
    ) -> AbstractContextManager[None]:
        from onepipe.serve.changelock import file_lock

        # One lock for the file: a laptop's history, where changes are rare and short.
        return file_lock(self.path.with_name(self.path.name + ".lock"), what, wait_s, on_wait)


class PostgresHistory(_SqlHistory):
    mark = "%s"
    id_column = "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    ddl = f"CREATE TABLE IF NOT EXISTS {TABLE} ({id_column}, {_DDL_COLUMNS})"

    def __init__(self, url: str) -> None:
        self.url = url
        self._ensure()

    def _connect(self) -> Any:
        psycopg = require("psycopg", extra="postgres", what="a postgresql:// serve.history_url")

        try:
            conn = psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        except psycopg.OperationalError as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"serve.history_url: cannot connect to PostgreSQL ({first})"
            ) from None
        return _Closing(conn)

    def atomic(self, conn: Any) -> AbstractContextManager[None]:
        return conn.transaction()

    @contextmanager
    def lock(
        self, key: str, what: str, wait_s: float, on_wait: Callable[[], None] | None = None
    ) -> Iterator[None]:
        from onepipe.serve.changelock import advisory_lock

        with self._connect() as conn, advisory_lock(conn, key, what, wait_s, on_wait):
            yield


class _Closing:
    """``with`` closes the connection (sqlite3's own context manager only commits)."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn

    def __enter__(self) -> Any:
        return self.conn

    def __exit__(self, *exc: object) -> None:
        self.conn.close()


def _row_to_change(row: tuple) -> Change:
    (
        cid,
        time,
        env,
        backend,
        action,
        user,
        model,
        champion,
        challenger,
        canary,
        shadow,
        sticky,
        reason,
    ) = row
    state = DeploymentState(
        model=model,
        champion=champion,
        challenger=challenger,
        canary=int(canary),
        shadow=bool(shadow),
        sticky=bool(sticky),
    )
    return Change(int(cid), str(time), env, backend, action, user, state, reason)


def open_history(settings: Settings) -> HistoryStore:
    url = settings.serve.history_url
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresHistory(url)
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    if "://" in url:
        raise ConfigError(
            f"serve.history_url: unsupported {url.split('://')[0]!r} "
            "(expected a SQLite path or a postgresql:// URL)"
        )
    return SqliteHistory(settings.path(url))
