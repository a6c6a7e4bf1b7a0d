"""Owner-only state (team server secrets, queued run records): directories made 0700,
files written 0600.

An existing directory's mode is never changed: running as root must not open a
user's project to everyone (issue 11). A directory this module creates may get
one group allowed to pass through it (0710), which is how PostgreSQL, run as its
own OS user when onepipe runs as root, reaches its data directory.
"""

from __future__ import annotations

import os
from pathlib import Path


def make_dirs(path: Path, *, group: int | None = None) -> list[Path]:
    """Create ``path`` and its missing parents, 0700 (0710 for ``group``); return those created."""
    missing = []
    here = path
    while not here.exists():
        missing.append(here)
        here = here.parent
    for folder in reversed(missing):
        folder.mkdir(mode=0o700)  # the umask can only take bits away
        if group is not None:
            os.chown(folder, -1, group)
            os.chmod(folder, 0o710)
    return list(reversed(missing))


def write_private(path: Path, text: str, *, sync: bool = True) -> None:
    """Replace ``path`` with ``text``, readable and writable by its owner only; a reader
    never sees half of it. ``sync=False`` skips the fsync where a lost file is harmless."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
        if sync:
            f.flush()
            os.fsync(f.fileno())
    os.replace(tmp, path)


def open_private_log(path: Path):
    """``path`` opened for appending, created 0600 (logs may quote what clients sent)."""
    return os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600), "ab")
