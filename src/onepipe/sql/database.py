"""What every database the SQL layer opens offers: connections, transactions, a lock,
added columns; the engine-specific parts are the subclasses (sql/sqlite.py,
sql/postgres.py).

Callers write one SQL text for both engines: ``mark`` is the placeholder, ``real``
and ``id_column`` the two column types whose names differ; the statements the
engines spell differently are methods here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, closing, contextmanager
from typing import Any


class Database(ABC):
    key: str  # the config key that named it (``monitor.store_url``): errors start with it
    mark: str  # the DB-API placeholder
    real: str  # a double-precision float column
    id_column: str  # ``id``, an auto-numbered primary key
    add_column: str = "ADD COLUMN"

    @abstractmethod
    def connection(self) -> Any:
        """A new connection in autocommit mode; the caller closes it."""

    @abstractmethod
    def transaction(self, conn: Any) -> AbstractContextManager[None]:
        """Statements on ``conn`` inside it commit together or not at all."""

    @abstractmethod
    def lock(
        self, key: str, wait_s: float, on_wait: Callable[[], None] | None = None
    ) -> AbstractContextManager[None]:
        """An exclusive lock named ``key``, released when the holder exits or dies;
        ``on_wait`` is called once if it has to wait; LockTimeout after ``wait_s``."""

    @abstractmethod
    def columns(self, conn: Any, table: str) -> set[str]:
        """The column names ``table`` has now."""

    def is_open(self, conn: Any) -> bool:
        """False once a connection broke (a database server restarted)."""
        return True

    @contextmanager
    def connect(self) -> Iterator[Any]:
        """A connection closed on exit (sqlite3's own ``with`` only commits)."""
        conn = self.connection()
        try:
            yield conn
        finally:
            conn.close()

    def marks(self, n: int) -> str:
        return ", ".join([self.mark] * n)

    def executemany(self, conn: Any, sql: str, rows: list[tuple]) -> None:
        """One statement for many rows, in one transaction (psycopg pipelines them:
        one round trip per batch, not per row)."""
        with self.transaction(conn), closing(conn.cursor()) as cur:
            cur.executemany(sql, rows)

    def add_columns(self, conn: Any, table: str, wanted: dict[str, str]) -> None:
        """Add the columns of ``wanted`` (name -> type) that ``table`` lacks: a table
        created by an older onepipe gets what this one writes. Safe when two
        processes open one old table at once."""
        with self.transaction(conn):
            have = self.columns(conn, table)
            for name, kind in wanted.items():
                if name not in have:
                    conn.execute(f"ALTER TABLE {table} {self.add_column} {name} {kind}")
