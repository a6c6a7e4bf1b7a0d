"""Where a project's running ``onepipe serve`` listens, for deploy, promote and rollback.

``onepipe serve --port 9001`` must be found by ``onepipe deploy`` even though the
config still says another port. The gateway writes its URL and pid next to its
MLServer workdir once it serves, and removes the file on the way out; a file
whose process is gone is ignored (a killed gateway cannot clean up).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING

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
    tmp.write_text(json.dumps({"url": url, "pid": os.getpid()}))
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
    try:
        data = json.loads(_file(settings).read_text())
        url, pid = str(data["url"]), int(data["pid"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:  # alive, owned by someone else
        pass
    return url
