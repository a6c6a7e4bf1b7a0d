"""The deployment history: what is deployed, every confirmed change, and the intents
of changes under way.

Serving writes it (deploy, promote, rollback and the repair of an interrupted
change, serve/transaction.py); monitoring reads it (the report, the canary section,
Seldon's CloudEvents). It sits below both, on the SQL layer (onepipe.sql), in the
database ``serve.history_url`` names: a SQLite file on a laptop, PostgreSQL shared.
"""

from __future__ import annotations

from onepipe.history.changes import (
    Change,
    HistoryStore,
    latest_state,
    open_history,
    open_history_url,
)
from onepipe.history.intents import Intent, IntentLog, Moves
from onepipe.history.state import CHALLENGER, CHAMPION, DeploymentState

__all__ = [
    "CHALLENGER",
    "CHAMPION",
    "Change",
    "DeploymentState",
    "HistoryStore",
    "Intent",
    "IntentLog",
    "Moves",
    "latest_state",
    "open_history",
    "open_history_url",
]
