"""Where a project's running ``onepipe serve`` listens, for deploy, promote and rollback.

``onepipe serve --port 9001`` must be found by ``onepipe deploy`` even though the
config still says another port. The gateway writes its URL, pid and what it serves
(project, config file, env, model: serve/control.py) next to its MLServer workdir once
it serves, and removes the file on the way out. A killed gateway cannot clean up, so
the file also names the process by pid *and* start time (lifecycle/identity.py): a file
whose process is gone, or whose pid now belongs to another process, is not trusted and
is removed by whoever reads it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

from onepipe.lifecycle.identity import ProcessIdentity
from onepipe.serve.control import identity

if TYPE_CHECKING:
    from onepipe.config import Settings

FILE_NAME = "gateway.json"


def _file(settings: Settings) -> Path:
    return settings.path(settings.serve.mlserver.workdir) / FILE_NAME


def connect_url(host: str, port: int) -> str:
    """A URL a local client can reach, for a gateway listening on ``host``."""
    host = "127.0.0.1" if host in ("0.0.0.0", "", "::") else host
    host = f"[{host}]" if ":" in host else host
    return f"http://{host}:{port}"


def publish(settings: Settings, url: str) -> None:
    path = _file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    me = ProcessIdentity.current().to_json()
    tmp.write_text(
        json.dumps({"url": url, "pid": os.getpid(), "process": me, **identity(settings)})
    )
    tmp.replace(path)


def withdraw(settings: Settings) -> None:
    path = _file(settings)
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def running_url(settings: Settings) -> str | None:
    """The URL of this project's running gateway, or None when none has published one."""
    path = _file(settings)
    try:
        text = path.read_text()
        data = json.loads(text)
        url = str(data["url"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    who = ProcessIdentity.from_json(data.get("process"))
    if who is not None and who.is_alive():
        return url
    if who is None or who.is_gone():  # stale (or unverifiable): nobody may trust it again
        _remove_if_unchanged(path, text)
    return None


def _remove_if_unchanged(path: Path, text: str) -> None:
    """Remove a stale file, unless a gateway starting right now has just replaced it."""
    try:
        if path.read_text() == text:
            path.unlink()
    except OSError:
        pass
