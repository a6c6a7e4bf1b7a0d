"""A database URL (what ``serve.history_url`` and ``monitor.store_url`` hold) -> a Database."""

from __future__ import annotations

from pathlib import Path

from onepipe.errors import ConfigError
from onepipe.sql.database import Database
from onepipe.sql.postgres import PostgresDatabase
from onepipe.sql.sqlite import SqliteDatabase

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
SQLITE_PREFIX = "sqlite:///"


def open_database(url: str, *, key: str, root: str | Path | None = None) -> Database:
    """``url``: a SQLite file's path (relative to ``root``, the project) or
    ``sqlite:///path``, or a ``postgresql://`` URL. ``key`` names the setting, for errors.
    Nothing is connected yet."""
    if url.startswith(POSTGRES_SCHEMES):
        return PostgresDatabase(url, key=key)
    return SqliteDatabase(sqlite_path(url, key=key, root=root), key=key)


def sqlite_path(url: str, *, key: str, root: str | Path | None = None) -> Path:
    path = url[len(SQLITE_PREFIX) :] if url.startswith(SQLITE_PREFIX) else url
    if "://" in path:
        raise ConfigError(
            f"{key}: unsupported {path.split('://')[0]!r} "
            "(expected a SQLite path or a postgresql:// URL)"
        )
    file = Path(path).expanduser()
    return file if root is None or file.is_absolute() else Path(root) / file
