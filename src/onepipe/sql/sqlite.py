"""A SQLite file: WAL, durable commits, owner-only, locked with ``flock``."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

from onepipe.errors import ConfigError
from onepipe.sql.database import Database
from onepipe.sql.locks import file_lock

BUSY_TIMEOUT_S = 30  # another process's write transaction; SQLite retries meanwhile


class SqliteDatabase(Database):
    mark = "?"
    real = "REAL"
    id_column = "id INTEGER PRIMARY KEY AUTOINCREMENT"

    def __init__(self, path: str | Path, *, key: str) -> None:
        self.path = Path(path)
        self.key = key
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Rows may quote what clients sent: the file is its owner's only, and SQLite
            # gives its -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError as exc:
            if not self.path.is_file():  # a folder, or a file where a folder should be
                raise ConfigError(
                    f"{key}: {exc.filename} is in the way of the SQLite file {self.path} "
                    "(expected a path to a file, or a postgresql:// URL)"
                ) from None
        except OSError as exc:
            raise ConfigError(
                f"{key}: cannot create the SQLite file {self.path} ({exc.strerror}; "
                "expected a path in a writable directory, or a postgresql:// URL)"
            ) from None

    def connection(self) -> sqlite3.Connection:
        # isolation_level=None: autocommit, transactions are explicit (``transaction``);
        # check_same_thread=False: a store shares one connection under its own lock.
        conn = sqlite3.connect(
            self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        # FULL: a committed batch is on disk before the prediction journal deletes it.
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def transaction(self, conn: Any) -> Iterator[None]:
        # IMMEDIATE takes the write lock first: a read inside sees what it will update.
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def lock(
        self, key: str, wait_s: float, on_wait: Callable[[], None] | None = None
    ) -> AbstractContextManager[None]:
        # One lock per file, whatever the key: a laptop's database, where the changes
        # that take it are rare and short.
        return file_lock(self.path.with_name(self.path.name + ".lock"), wait_s, on_wait)

    def columns(self, conn: Any, table: str) -> set[str]:
        return {row[1] for row in conn.execute(f"PRAGMA table_info({table})")}

    def __repr__(self) -> str:
        return f"SqliteDatabase({str(self.path)!r})"
