"""Intents of deployment changes: written before a change touches anything.

Table ``onepipe_deployment_intents``, in the history's database (SQLite or
PostgreSQL). An intent holds the state a change is to serve and the registry
aliases it moves (each role's version before and after). It is ``pending`` until
the change is confirmed, which appends the history row and marks the intent
``done`` in one database transaction, or until it is ``rolled back``. A pending
intent found by the holder of the change lock (``HistoryStore.lock``) was left by
a process that died mid-change; serve/transaction.py repairs it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from onepipe.history.changes import (
    COLUMNS,
    DDL_COLUMNS,
    Change,
    HistoryStore,
    change_values,
    now,
)
from onepipe.history.state import DeploymentState

TABLE = "onepipe_deployment_intents"
PENDING, DONE, ROLLED_BACK = "pending", "done", "rolled back"

Moves = dict[str, tuple[str | None, str | None]]  # alias role -> (version before, after)


@dataclass(frozen=True)
class Intent:
    id: int
    time: str
    env: str
    backend: str
    action: str
    user: str
    state: DeploymentState
    reason: str
    moves: Moves

    def describe(self) -> str:
        when = self.time[:19].replace("T", " ")
        return f"{self.action} to {self.state.describe()} by {self.user} at {when} UTC"


class IntentLog:
    def __init__(self, store: HistoryStore) -> None:
        self.store = store
        self.db = store.db
        with self.db.connect() as conn:
            conn.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} ({self.db.id_column}, {DDL_COLUMNS}, "
                "moves TEXT NOT NULL, status TEXT NOT NULL, history_id BIGINT, outcome TEXT)"
            )

    def begin(
        self,
        *,
        env: str,
        backend: str,
        action: str,
        user: str,
        state: DeploymentState,
        reason: str,
        moves: Moves,
    ) -> Intent:
        time = now()
        values = (
            *change_values(time, env, backend, action, user, state, reason),
            json.dumps({role: list(pair) for role, pair in moves.items()}),
            PENDING,
        )
        names = (*COLUMNS, "moves", "status")
        sql = (
            f"INSERT INTO {TABLE} ({', '.join(names)}) "
            f"VALUES ({self.db.marks(len(names))}) RETURNING id"
        )
        with self.db.connect() as conn:
            row = conn.execute(sql, values).fetchone()
        return Intent(int(row[0]), time, env, backend, action, user, state, reason, dict(moves))

    def pending(self, *, env: str, backend: str, model: str) -> list[Intent]:
        """Unfinished intents of this model, oldest first."""
        m = self.db.mark
        sql = (
            f"SELECT id, {', '.join(COLUMNS)}, moves FROM {TABLE} WHERE env = {m} "
            f"AND backend = {m} AND model = {m} AND status = {m} ORDER BY id"
        )
        with self.db.connect() as conn:
            rows = conn.execute(sql, (env, backend, model, PENDING)).fetchall()
        return [_intent(row) for row in rows]

    def confirm(self, intent: Intent, reason: str | None = None) -> Change:
        """The history row and the intent's ``done``, together or not at all."""
        with self.db.connect() as conn, self.db.transaction(conn):
            change = self.store.insert(
                conn,
                env=intent.env,
                backend=intent.backend,
                action=intent.action,
                user=intent.user,
                state=intent.state,
                reason=intent.reason if reason is None else reason,
            )
            self._close(conn, intent, DONE, change.id, f"history #{change.id}")
        return change

    def roll_back(self, intent: Intent, outcome: str) -> None:
        with self.db.connect() as conn:
            self._close(conn, intent, ROLLED_BACK, None, outcome)

    def _close(
        self, conn: Any, intent: Intent, status: str, history_id: int | None, outcome: str
    ) -> None:
        m = self.db.mark
        cur = conn.execute(
            f"UPDATE {TABLE} SET status = {m}, history_id = {m}, outcome = {m} "
            f"WHERE id = {m} AND status = {m}",
            (status, history_id, outcome[:1000], intent.id, PENDING),
        )
        if cur.rowcount != 1:  # only the holder of the change lock closes intents
            raise RuntimeError(f"deployment intent {intent.id} was closed by someone else")


def _intent(row: tuple) -> Intent:
    (cid, time, env, backend, action, user, model, champ, chall, canary, shadow, sticky) = row[:12]
    reason, moves = row[12], json.loads(row[13])
    state = DeploymentState(model, champ, chall, int(canary), bool(shadow), bool(sticky))
    pairs = {role: (pair[0], pair[1]) for role, pair in moves.items()}
    return Intent(int(cid), str(time), env, backend, action, user, state, reason, pairs)
