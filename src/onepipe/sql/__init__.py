"""The SQL layer: SQLite or PostgreSQL by URL, for the deployment history and the
prediction store.

``open_database(url, key=...)`` turns a URL into a :class:`Database` (sql/url.py);
what differs between the engines (placeholders, column types, transactions, the
lock, columns added to an older table, owner-only files, masked URLs in errors)
is in sql/sqlite.py and sql/postgres.py, nowhere else.

Why not SQLAlchemy Core (installed with MLflow): the stores use the drivers'
own connections (the stdlib ``sqlite3``, psycopg 3) and the differences above
are a few lines each. SQLAlchemy still needs dialect-specific code for the
upsert, has no ``flock`` or advisory lock, needs event hooks to make pysqlite
issue ``BEGIN IMMEDIATE``, and its pool would hold the session a PostgreSQL
advisory lock lives on; on the prediction store's write path it halved the
throughput (docs/sql.md).
"""

from __future__ import annotations

from onepipe.sql.database import Database
from onepipe.sql.locks import LockTimeout
from onepipe.sql.url import open_database

__all__ = ["Database", "LockTimeout", "open_database"]
