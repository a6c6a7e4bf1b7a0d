"""Confirmed deployment changes: time, user, versions, weights and reason of each.

One table, ``onepipe_deployments``, in the database ``serve.history_url`` names
(sql/: a SQLite path on a laptop, a ``postgresql://`` URL shared). Rows are
append-only; ``id`` is the number ``rollback --to`` takes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onepipe.errors import NotFoundError
from onepipe.history.state import DeploymentState
from onepipe.sql import Database, open_database

if TYPE_CHECKING:
    from onepipe.config import Settings

TABLE = "onepipe_deployments"
URL_KEY = "serve.history_url"
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
DDL_COLUMNS = """
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


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def change_values(
    time: str, env: str, backend: str, action: str, user: str, state: DeploymentState, reason: str
) -> tuple:
    """A change's values in ``COLUMNS`` order (the intents table starts with the same)."""
    return (
        time,
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


class HistoryStore:
    """The history table in ``db``; made on first use."""

    def __init__(self, db: Database) -> None:
        self.db = db
        with db.connect() as conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {TABLE} ({db.id_column}, {DDL_COLUMNS})")

    def record(
        self, *, env: str, backend: str, action: str, user: str, state: DeploymentState, reason: str
    ) -> Change:
        with self.db.connect() as conn:
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
        values = change_values(now(), env, backend, action, user, state, reason)
        sql = (
            f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) "
            f"VALUES ({self.db.marks(len(COLUMNS))}) RETURNING id"
        )
        row = conn.execute(sql, values).fetchone()
        return _row_to_change((row[0], *values))

    def list(self, *, env: str, backend: str, model: str, limit: int | None = None) -> list[Change]:
        """Newest first."""
        m = self.db.mark
        sql = (
            f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} "
            f"WHERE env = {m} AND backend = {m} AND model = {m} ORDER BY id DESC"
        )
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self.db.connect() as conn:
            rows = conn.execute(sql, (env, backend, model)).fetchall()
        return [_row_to_change(r) for r in rows]

    def get(self, change_id: int, *, env: str, backend: str, model: str) -> Change:
        m = self.db.mark
        sql = (
            f"SELECT id, {', '.join(COLUMNS)} FROM {TABLE} "
            f"WHERE id = {m} AND env = {m} AND backend = {m} AND model = {m}"
        )
        with self.db.connect() as conn:
            row = conn.execute(sql, (int(change_id), env, backend, model)).fetchone()
        if row is None:
            ids = [c.id for c in self.list(env=env, backend=backend, model=model, limit=20)]
            known = ", ".join(map(str, ids)) if ids else "none recorded"
            raise NotFoundError(
                f"deployment change {change_id}: not found for {model} "
                f"({backend}, env {env}; recent: {known})"
            )
        return _row_to_change(row)

    def lock(
        self, key: str, wait_s: float, on_wait: Callable[[], None] | None = None
    ) -> AbstractContextManager[None]:
        """The lock a deployment change holds from its intent to its confirmation."""
        return self.db.lock(key, wait_s, on_wait)


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


def open_history_url(url: str, root: str | Path | None = None) -> HistoryStore:
    """The history at ``url``; a relative SQLite path is taken from ``root``."""
    return HistoryStore(open_database(url, key=URL_KEY, root=root))


def open_history(settings: Settings) -> HistoryStore:
    return open_history_url(settings.serve.history_url, settings.root)


def latest_state(
    settings: Settings, backend: str, ttl_s: float = 10.0
) -> Callable[[], DeploymentState | None]:
    """What the last change filed under ``backend`` made live for this environment's model,
    read on the first call and again once ``ttl_s`` old: a cluster backend's event intake
    maps each logged answer to its version with it, without a query per event."""
    cache: dict[str, Any] = {"at": None, "state": None}

    def current() -> DeploymentState | None:
        if cache["at"] is None or time.monotonic() - cache["at"] > ttl_s:
            changes = open_history(settings).list(
                env=settings.env, backend=backend, model=settings.model_name, limit=1
            )
            cache["state"] = changes[0].state if changes else None
            cache["at"] = time.monotonic()
        return cache["state"]

    return current
