"""Versioned data: the ``DataStore`` protocol, its embedded store, and how callers open one.

Code above this package asks for a store with ``open_store(settings)`` (or, in a
pipeline step running in another process, ``open_store_uri(settings.data_store_uri)``)
and never asks which backend it got.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from onepipe import plugins
from onepipe.data.local import LocalDataStore
from onepipe.data.protocol import Commit, DataStore, Diff, FileEntry, load_data_store
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
    return plugins.load_backend("data", settings.backends.data).from_settings(settings)


def open_store_uri(uri: str) -> DataStore:
    """A store from the URI its backend's ``uri_for`` made (``file:///abs/path``,
    ``pachyderm://host:port/project``), with an optional ``?default_branch=NAME``:
    the backend whose ``uri_scheme`` it has opens it."""
    parts = urlsplit(uri)
    branch = parse_qs(parts.query).get("default_branch", ["master"])[0]
    backends = [load_data_store(name) for name in plugins.names("data")]
    for backend in backends:
        if backend.uri_scheme == parts.scheme:
            return backend.from_uri(parts, branch)
    forms = " or ".join(backend.uri_form for backend in backends)
    raise UsageError(f"data store URI {uri!r}: unsupported (expected {forms})")


def read_table(store: DataStore, ref: str) -> pd.DataFrame:
    """Every ``.csv`` and ``.parquet`` file of the commit, in path order, as one DataFrame."""
    # lazy: keeps pandas off `onepipe --help` (the CLI imports this package when it loads)
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
