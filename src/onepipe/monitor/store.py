"""Open the prediction store named by ``monitor.store_url`` (a SQLite path or a
``postgresql://`` URL, see onepipe.sql)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from onepipe.monitor.journal import replay
from onepipe.monitor.sql_store import SqlPredictionStore
from onepipe.sql import open_database

if TYPE_CHECKING:
    from onepipe.config import Settings

log = logging.getLogger("onepipe.monitor.store")

URL_KEY = "monitor.store_url"


def open_url(url: str, root: str | Path | None = None) -> SqlPredictionStore:
    """The store at ``url``; a relative SQLite path is taken from ``root``."""
    return SqlPredictionStore(open_database(url, key=URL_KEY, root=root))


def open_store(settings: Settings) -> SqlPredictionStore:
    """The project's store, with whatever a killed gateway left in its journal moved in
    first (one directory listing when nothing was left)."""
    store = open_url(settings.monitor.store_url, settings.root)
    try:
        replay(settings.path(settings.monitor.journal_dir), store)
    except Exception as exc:  # noqa: BLE001 - the segments stay; the next opener retries
        log.warning("prediction journal: replay failed (%s); the records stay queued", exc)
    return store
