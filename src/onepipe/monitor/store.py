"""Open the prediction store named by ``monitor.store_url`` (backend picked via plugins)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from onepipe.errors import ConfigError

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.monitor.protocol import PredictionStore

log = logging.getLogger("onepipe.monitor.store")


def backend_for_url(url: str) -> tuple[str, str]:
    """(backend name, argument) for a store URL: a SQLite path or a postgresql:// URL."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgres", url
    if url.startswith("sqlite:///"):
        url = url[len("sqlite:///") :]
    if "://" in url:
        raise ConfigError(
            f"monitor.store_url: unsupported {url.split('://')[0]!r} "
            "(expected a SQLite path or a postgresql:// URL)"
        )
    return "sqlite", url


def open_url(url: str, root=None) -> PredictionStore:
    from pathlib import Path

    from onepipe.plugins import load_backend

    name, arg = backend_for_url(url)
    if name == "sqlite" and root is not None and not Path(arg).expanduser().is_absolute():
        arg = str(Path(root) / arg)
    return load_backend("monitor", name)(arg)


def open_store(settings: Settings) -> PredictionStore:
    """The project's store, with whatever a killed gateway left in its journal moved in
    first (one directory listing when nothing was left)."""
    from onepipe.monitor.journal import replay

    name, arg = backend_for_url(settings.monitor.store_url)
    store = open_url(arg if name == "postgres" else str(settings.path(arg)))
    try:
        replay(settings.path(settings.monitor.journal_dir), store)
    except Exception as exc:  # noqa: BLE001 - the segments stay; the next opener retries
        log.warning("prediction journal: replay failed (%s); the records stay queued", exc)
    return store
