"""Who may steer a local gateway: the project's control key, and which project a gateway serves.

The gateway's admin API (routing changes, model loads) answers only requests that carry
the project's control key: a random secret in ``<serve.mlserver.workdir>/control.key``,
mode 0600 in a 0700 directory, created by the first ``onepipe serve``. Another local
user cannot read it; a command of this project's owner reads it and sends it as
``Authorization: Bearer <key>``. The gateway compares it in constant time.

The key proves "may steer this gateway"; the identity (project, config file, env) says
"is the gateway this command means". A project whose config names another project's
gateway port holds the wrong key, and a config that shares another's workdir holds the
right key but names another config: both are refused before anything is applied, and the
error names both.
"""

from __future__ import annotations

import hmac
import os
import secrets
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onepipe.errors import UsageError

if TYPE_CHECKING:
    from onepipe.config import Settings

KEY_FILE = "control.key"
SCHEME = "Bearer "


def serve_dir(settings: Settings) -> Path:
    """``serve.mlserver.workdir``, created owner-only (the key and MLServer's socket live here)."""
    # lazy: mlserver_endpoint imports asyncio and httpx; `onepipe --help` loads this module
    # (through cli/demo_cmd.py, app/background.py and serve/address.py)
    from onepipe.serve.mlserver_endpoint import private_dir

    return private_dir(settings.path(settings.serve.mlserver.workdir))


def key_path(settings: Settings) -> Path:
    return settings.path(settings.serve.mlserver.workdir) / KEY_FILE


def _check_private(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UsageError(
            f"{path} is readable by other users (mode {mode:04o}): it is no longer a secret; "
            "delete it and restart `onepipe serve`, which makes a new one readable by you only"
        )


def read_key(settings: Settings) -> str | None:
    """This project's control key, or None when no gateway of this project ever made one."""
    return read_key_file(key_path(settings))


def read_key_file(path: Path) -> str | None:
    try:
        _check_private(path)
        return path.read_text().strip() or None
    except (FileNotFoundError, PermissionError):  # none yet, or not ours to read
        return None


def control_key(settings: Settings) -> str:
    """The project's control key, created (0600, in a 0700 directory) on first use."""
    path = serve_dir(settings) / KEY_FILE
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = read_key(settings)
        if key:
            return key
        path.unlink()  # an empty file (a crash between create and write): make a new one
        return control_key(settings)
    key = secrets.token_urlsafe(32)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return key


def auth_headers(key: str | None) -> dict[str, str]:
    return {"authorization": SCHEME + key} if key else {}


def authorized(header: str | None, key: str) -> bool:
    """Constant-time check of an ``Authorization`` header against the key."""
    sent = header[len(SCHEME) :] if header and header.startswith(SCHEME) else ""
    return hmac.compare_digest(sent.encode(), key.encode())


def identity(settings: Settings) -> dict[str, Any]:
    """What a gateway serves, as it publishes it (gateway.json, the admin API)."""
    return {
        "project": settings.project,
        "config": str(settings.config_file),
        "env": settings.env,
        "model": settings.model_name,
    }


def same_project(serves: dict[str, Any], mine: dict[str, Any]) -> bool:
    return all(serves.get(k) == mine.get(k) for k in ("config", "env", "model"))


def describe(serves: dict[str, Any]) -> str:
    return (
        f"project {serves.get('project')} (config {serves.get('config')}, "
        f"env {serves.get('env')}, model {serves.get('model')})"
    )
