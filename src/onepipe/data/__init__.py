"""Versioned data: the ``DataStore`` protocol, its embedded store, and how callers open one.

Code above this package asks for a store with ``open_store(settings)`` (or, in a
pipeline step running in another process, ``open_store_uri(settings.data_store_uri)``)
and never asks which backend it got.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, unquote, urlsplit

from onepipe.data.local import LocalDataStore
from onepipe.data.protocol import Commit, DataStore, Diff, FileEntry
from onepipe.data.refs import parse_ref
from onepipe.errors import UsageError

if TYPE_CHECKING:
    import pandas as pd

    from onepipe.config import Settings

__all__ = [
    "Commit",
    "DataStore",
    "Diff",
    "FileEntry",
    "LocalDataStore",
    "open_store",
    "open_store_uri",
    "parse_ref",
    "read_table",
]

TABLE_SUFFIXES = (".csv", ".parquet")


def open_store(settings: Settings) -> DataStore:
    """The store the settings' environment names (``backends.data``)."""
    from onepipe.plugins import load_backend

    return load_backend("data", settings.backends.data).from_settings(settings)


def open_store_uri(uri: str) -> DataStore:
    """A store from its URI: ``file:///abs/path[?default_branch=NAME]`` opens a local store,
    ``pachyderm://host:port/project[?default_branch=NAME]`` a Pachyderm one."""
    parts = urlsplit(uri)
    query = parse_qs(parts.query)
    branch = query.get("default_branch", ["master"])[0]
    if parts.scheme == "pachyderm" and parts.hostname:
        from onepipe.data.pachyderm import PachydermDataStore

        project = unquote(parts.path.strip("/")) or "default"
        return PachydermDataStore.connect(parts.hostname, parts.port or 30650, project, branch)
    if parts.scheme != "file" or parts.netloc not in ("", "localhost") or not parts.path:
        raise UsageError(
            f"data store URI {uri!r}: unsupported (expected file:///absolute/path "
            "or pachyderm://host:port/project)"
        )
    return LocalDataStore(unquote(parts.path), default_branch=branch)


def read_table(store: DataStore, ref: str) -> pd.DataFrame:
    """Every ``.csv`` and ``.parquet`` file of the commit, in path order, as one DataFrame."""
    import io

    import pandas as pd

    commit = store.resolve(ref)
    tables = [f for f in commit.files if f.path.lower().endswith(TABLE_SUFFIXES)]
    if not tables:
        found = ", ".join(f.path for f in commit.files[:5]) or "no files"
        raise UsageError(
            f"{ref} (commit {commit.short}) holds no table files "
            f"(expected .csv or .parquet; found: {found})"
        )
    frames: list[Any] = []
    for entry in tables:
        data = store.read_bytes(commit.ref, entry.path)
        try:
            if entry.path.lower().endswith(".csv"):
                frames.append(pd.read_csv(io.BytesIO(data)))
            else:
                frames.append(pd.read_parquet(io.BytesIO(data)))
        except Exception as exc:  # pandas and pyarrow raise many types for one cause: bad bytes
            kind = "CSV" if entry.path.lower().endswith(".csv") else "Parquet"
            raise UsageError(
                f"{commit.repo}@{commit.short}:{entry.path}: cannot read as {kind} "
                f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''})"
            ) from None
    return pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
