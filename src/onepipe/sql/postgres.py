"""A PostgreSQL database through psycopg 3 (the ``postgres`` extra)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any
from urllib.parse import unquote

from onepipe.config.secrets import MASK, mask
from onepipe.errors import ConfigError
from onepipe.extras import require
from onepipe.sql.database import Database
from onepipe.sql.locks import advisory_lock

CONNECT_TIMEOUT_S = 10
# The userinfo's password, up to the last '@' before any query: also in URLs too
# broken to parse, which is when libpq quotes pieces of them back.
_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^/@:?]*:(?P<pw>[^?]*)@")


class PostgresDatabase(Database):
    mark = "%s"
    real = "DOUBLE PRECISION"
    id_column = "id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    add_column = "ADD COLUMN IF NOT EXISTS"  # two processes migrating one table at once

    def __init__(self, url: str, *, key: str) -> None:
        self.url = url
        self.key = key

    def connection(self) -> Any:
        psycopg = require("psycopg", extra="postgres", what=f"a postgresql:// {self.key}")
        try:
            return psycopg.connect(self.url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
        except psycopg.Error as exc:  # unreachable, refused, or a URL libpq cannot parse
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ConfigError(
                f"{self.key}: cannot connect to PostgreSQL ({self._hide(first)})"
            ) from None

    def _hide(self, text: str) -> str:
        """``text`` without the URL's password, even where libpq quotes a piece of it."""
        found = _PASSWORD.match(self.url)
        password = found["pw"] if found else ""
        for secret in {password, unquote(password)} - {""}:
            text = text.replace(secret, MASK)
        return mask(text)

    def is_open(self, conn: Any) -> bool:
        return not conn.closed

    def transaction(self, conn: Any) -> AbstractContextManager[None]:
        return conn.transaction()

    @contextmanager
    def lock(
        self, key: str, wait_s: float, on_wait: Callable[[], None] | None = None
    ) -> Iterator[None]:
        # A session lock on a connection of its own: it ends with the holder's process.
        with self.connect() as conn, advisory_lock(conn, key, wait_s, on_wait):
            yield

    def columns(self, conn: Any, table: str) -> set[str]:
        rows = conn.execute(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_name = %s AND table_schema = current_schema()",
            (table,),
        )
        return {row[0] for row in rows}

    def __repr__(self) -> str:
        return f"PostgresDatabase({self._hide(self.url)!r})"
