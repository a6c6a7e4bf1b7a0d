"""Who may steer a local gateway: the holder of its project's control key, for that project only.

Another local user (uid 65534, in a subprocess that cannot read the project's files)
tries the admin API and MLServer's own repository API; a second project whose config
names the first project's gateway port tries ``onepipe deploy --canary 50``. Routing,
history and the loaded models must come out unchanged.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys

import httpx
import psutil
import pytest
from serve_helpers import REPO, ROW, free_port, load, private_copy

pytestmark = pytest.mark.slow

OTHER_UID = 65534  # nobody: owns none of the project's files

# What the other user runs: stdlib only (the test's interpreter may live where uid 65534
# cannot enter). It reports what each attempt got: an HTTP status or the error's name.
ATTEMPTS = r"""
import http.client, json, socket, sys

gateway_port, state, mlserver, model, key_path = sys.argv[1:6]


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=30)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(self.path)


def post(conn, path, body=b""):
    try:
        conn.request("POST", path, body=body, headers={"content-type": "application/json"})
        return conn.getresponse().status
    except OSError as exc:
        return type(exc).__name__
    finally:
        conn.close()


def mlserver_conn():
    if mlserver.startswith("unix:"):
        return UnixConnection(mlserver[len("unix:"):])
    host, _, port = mlserver.split("://")[1].rpartition(":")
    return http.client.HTTPConnection(host, int(port), timeout=30)


result = {}
try:
    open(key_path).read()
    result["key"] = "read"
except OSError as exc:
    result["key"] = type(exc).__name__
gateway = lambda: http.client.HTTPConnection("127.0.0.1", int(gateway_port), timeout=30)
result["apply"] = post(gateway(), "/admin/apply", json.dumps({"state": json.loads(state)}))
result["apply_with_guess"] = post(gateway(), "/admin/apply?key=guess", b"{}")
result["unload"] = post(mlserver_conn(), f"/v2/repository/models/{model}/unload")
result["load"] = post(mlserver_conn(), f"/v2/repository/models/{model}/load")
print(json.dumps(result))
"""


def _python_for(uid: int) -> str:
    """An interpreter ``uid`` may run (the test's own may sit under /root, mode 0700)."""
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if not candidate:
            continue
        try:
            probe = subprocess.run(
                [candidate, "-I", "-c", "pass"], user=uid, group=uid, extra_groups=[], cwd="/"
            )
        except OSError:  # not executable for uid
            continue
        if probe.returncode == 0:
            return candidate
    pytest.skip(f"no Python interpreter here that uid {uid} may run")


def as_other_user(*args: str) -> dict:
    if os.geteuid() != 0:
        pytest.skip("switching to another uid needs root")
    r = subprocess.run(
        [_python_for(OTHER_UID), "-I", "-c", ATTEMPTS, *args],
        user=OTHER_UID,
        group=OTHER_UID,
        extra_groups=[],
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def _owner_headers(settings) -> dict[str, str]:
    from onepipe.serve.control import auth_headers, read_key

    return auth_headers(read_key(settings))


def _mlserver_process(gateway) -> psutil.Process:
    return psutil.Process(gateway.gateway.host.worker.proc.pid)


def _answers(url: str, n: int = 10) -> list[tuple[int, str]]:
    out = []
    for _ in range(n):
        r = httpx.post(f"{url}/predict", json={"instances": [ROW]}, timeout=30)
        out.append((r.status_code, r.json().get("model_version", r.text[:100])))
    return out


def test_another_local_user_cannot_steer_the_gateway_or_mlserver(gateway, project):
    settings = load(project)
    table = gateway.gateway.table
    before, loaded = table.state, sorted(gateway.gateway.host.loaded_versions())
    history = [c.id for c in _history(settings)]
    steered = {**before.to_dict(), "challenger": "2", "canary": 77}
    mlserver = gateway.gateway.host.url
    internal = table.champion.model.internal_name
    key_file = project / ".onepipe" / "serve" / "control.key"

    got = as_other_user(
        str(settings.serve.gateway.port),
        json.dumps(steered),
        mlserver,
        internal,
        str(key_file),
    )

    assert got["key"] == "PermissionError"  # the other user cannot read the project's key
    assert got["apply"] in (401, 403), got
    assert got["apply_with_guess"] in (401, 403), got
    # MLServer's repository API: unreachable (owner-only socket) or refused, never obeyed
    assert got["unload"] not in (200, 204) and got["load"] not in (200, 204), got
    assert gateway.gateway.table.state == before
    assert sorted(gateway.gateway.host.loaded_versions()) == loaded
    assert [c.id for c in _history(settings)] == history
    answers = _answers(gateway.url)
    assert all(status == 200 for status, _ in answers), answers
    assert {v for _, v in answers} <= set(before.versions)
    # and there is no TCP port of MLServer's to find: it listens on no inet socket at all
    worker = _mlserver_process(gateway)
    listening = [
        c
        for p in [worker, *worker.children(recursive=True)]
        for c in p.net_connections(kind="inet")
        if c.status == psutil.CONN_LISTEN
    ]
    assert listening == []


def test_the_owner_steers_with_the_key_and_the_key_is_owner_only(gateway, project):
    settings = load(project)
    url = gateway.url
    state = httpx.get(f"{url}/admin/state", headers=_owner_headers(settings), timeout=10)
    assert state.status_code == 200
    assert state.json()["serves"]["config"] == str(settings.config_file)
    assert httpx.get(f"{url}/admin/state", timeout=10).status_code == 401
    wrong = {"authorization": "Bearer " + "x" * 43}
    assert httpx.get(f"{url}/admin/state", headers=wrong, timeout=10).status_code == 401
    key = project / ".onepipe" / "serve" / "control.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600 and key.stat().st_uid == os.geteuid()
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700  # MLServer's socket lives here too
    published = json.loads((key.parent / "gateway.json").read_text())
    assert published["config"] == str(settings.config_file) and published["env"] == "dev"
    # the right key but another config (a config sharing this workdir): refused, unchanged
    before = gateway.gateway.table.state
    other = {**state.json()["serves"], "config": "/elsewhere/onepipe.yaml"}
    steer = {"state": {**before.to_dict(), "canary": 60, "challenger": "2"}, "expect": other}
    refused = httpx.post(
        f"{url}/admin/apply", json=steer, headers=_owner_headers(settings), timeout=30
    )
    assert refused.status_code == 409 and "/elsewhere/onepipe.yaml" in refused.json()["error"]
    assert gateway.gateway.table.state == before
    # inference and feedback stay open without a key
    assert httpx.post(f"{url}/predict", json={"instances": [ROW]}).status_code == 200
    assert httpx.post(f"{url}/feedback", json={}).status_code < 500


def _history(settings):
    from onepipe.history import open_history

    return open_history(settings).list(
        env=settings.env, backend="mlserver", model=settings.model_name
    )


@pytest.fixture(scope="module")
def other_project(template, project, tmp_path_factory):
    """A second project, its own registry and history, whose config names the first's port."""
    port = load(project).serve.gateway.port
    return private_copy(template, tmp_path_factory.mktemp("other-project"), port)


def test_a_project_cannot_steer_another_projects_gateway(gateway, project, other_project, cli):
    mine, theirs = load(project), load(other_project)
    before = gateway.gateway.table.state
    history = [c.id for c in _history(mine)]

    r = cli("deploy", "--canary", "50", cwd=other_project)

    assert r.code == 2, (r.out, r.err)
    errors = [line for line in r.err.splitlines() if line.strip()]
    assert len(errors) == 1 and errors[0].startswith("error:"), r.err
    assert str(mine.config_file) in errors[0] and str(theirs.config_file) in errors[0]
    assert "Traceback" not in r.err
    assert gateway.gateway.table.state == before
    assert [c.id for c in _history(mine)] == history
    assert _history(theirs) == []  # nothing recorded as if it had been applied


def test_control_key_is_created_owner_only_once(tmp_path):
    from onepipe.errors import OnepipeError
    from onepipe.serve.control import control_key, read_key

    root = tmp_path / "p"
    root.mkdir()
    shutil.copy(REPO / "onepipe.yaml", root / "onepipe.yaml")
    settings = load(root)
    assert read_key(settings) is None
    key = control_key(settings)
    path = root / ".onepipe" / "serve" / "control.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and len(key) >= 32
    assert control_key(settings) == key == read_key(settings)
    path.chmod(0o644)  # readable by others: no longer a secret
    with pytest.raises(OnepipeError, match="control.key.*readable by other users"):
        control_key(settings)


def test_a_fixed_mlserver_port_opts_into_loopback_tcp(project):
    """The documented opt-out: serve.mlserver.port set -> MLServer on 127.0.0.1:PORT."""
    from onepipe.app.background import BackgroundGateway
    from onepipe.config import load_settings

    mlserver_port, gateway_port = free_port(), free_port()
    settings = load_settings(
        project / "onepipe.yaml",
        overrides=[
            f"serve.mlserver.port={mlserver_port}",
            f"serve.gateway.port={gateway_port}",
            "serve.mlserver.workdir=.onepipe/serve-tcp",  # not the module gateway's
        ],
        user="tester",
    )
    running = BackgroundGateway(settings).start()
    try:
        worker = _mlserver_process(running)
        listening = {
            (c.laddr.ip, c.laddr.port)
            for p in [worker, *worker.children(recursive=True)]
            for c in p.net_connections(kind="inet")
            if c.status == psutil.CONN_LISTEN
        }
        assert ("127.0.0.1", mlserver_port) in listening
        assert running.gateway.host.url == f"http://127.0.0.1:{mlserver_port}"
        assert all(status == 200 for status, _ in _answers(running.url, 3))
    finally:
        running.stop()
