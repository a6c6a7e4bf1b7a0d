"""Team mode: `onepipe server` (real PostgreSQL + real `mlflow server`) and two users sweeping.

One `onepipe server --user alice --user bob` subprocess; alice and bob each have
their own copy of the project pointing at it and, with their credentials file in
the environment, run `onepipe sweep` at the same time (two CLI subprocesses). Afterwards nothing may be shared or lost: each user's runs sit in
their own experiment with their own user tag, every trial is there, and both
best models are registered with the dev challenger alias on one of them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml
from team_helpers import server_parent, start_server

SWEEP = {
    "objective": {"type": "maximize", "objectiveMetricName": "roc_auc"},
    "algorithm": {"algorithmName": "random", "algorithmSettings": {"random_state": 1}},
    "parameters": [
        {
            "name": "learning_rate",
            "parameterType": "double",
            "feasibleSpace": {"min": 0.05, "max": 0.3, "distribution": "logUniform"},
        }
    ],
    "maxTrialCount": 2,
    "parallelTrialCount": 1,
    "maxFailedTrialCount": 1,
}
USERS = ("alice", "bob")


@pytest.fixture
def team_server(tmp_path):
    """`onepipe server --user alice --user bob` as an operator starts it."""
    with server_parent(tmp_path) as parent:
        srv = start_server(parent / "server", *USERS, cwd=tmp_path)
        try:
            yield srv
        finally:
            srv.stop()


def _project(root: Path, user: str, url: str, seed: int) -> Path:
    from tests.sweep.conftest import make_project

    sweep = json.loads(json.dumps(SWEEP))
    sweep["algorithm"]["algorithmSettings"]["random_state"] = seed
    make_project(root, sweep)
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    cfg["tracking"]["uri"] = url
    cfg["pipeline"]["params"].update({"n_estimators": 10, "max_depth": 2})
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return root


@pytest.mark.slow
def test_two_users_sweep_at_once_against_one_team_server(team_server, tmp_path, monkeypatch):
    from mlflow import MlflowClient

    from onepipe.history import DeploymentState, open_history_url

    url, data, server = team_server.url, team_server.data, team_server.proc
    roots = {u: _project(tmp_path / u, u, url, seed) for u, seed in zip(USERS, (1, 2), strict=True)}
    # Each user's credentials file in the environment: their login is their onepipe user too.
    mine = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "ONEPIPE_"))}
    procs = {
        u: subprocess.Popen(
            [sys.executable, "-m", "onepipe", "sweep", "--json"],
            cwd=roots[u],
            env={**mine, **team_server.credentials(u)},
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for u in USERS
    }
    results = {u: p.communicate(timeout=300) for u, p in procs.items()}
    for u, p in procs.items():
        assert p.returncode == 0, f"{u}: {results[u][1][-3000:]}"

    admin = team_server.credentials("admin")
    monkeypatch.setenv("MLFLOW_TRACKING_USERNAME", "admin")
    monkeypatch.setenv("MLFLOW_TRACKING_PASSWORD", admin["MLFLOW_TRACKING_PASSWORD"])
    client = MlflowClient(url, registry_uri=url)
    parents, versions = {}, {}
    for user in USERS:
        other = next(u for u in USERS if u != user)
        exp = client.get_experiment_by_name(f"credit-risk-dev/{user}")
        assert exp is not None, f"no experiment for {user}"
        runs = client.search_runs([exp.experiment_id], max_results=1000)
        assert runs and all(r.data.tags.get("onepipe.user", user) == user for r in runs)
        assert all(r.data.tags.get("mlflow.user", user) == user for r in runs)
        assert not [r for r in runs if other in json.dumps(r.data.tags)]
        sweeps = [r for r in runs if r.data.tags.get("onepipe.kind") == "sweep"]
        assert len(sweeps) == 1 and sweeps[0].info.status == "FINISHED"
        assert sweeps[0].data.tags["onepipe.sweep"] == f"{user}-credit-risk-dev"
        trials = [
            r
            for r in runs
            if r.data.tags.get("onepipe.kind") == "pipeline"
            and r.data.tags.get("onepipe.sweep") == f"{user}-credit-risk-dev"
        ]
        # Nothing lost: every trial ran, finished and is a child of this user's sweep.
        assert len(trials) == SWEEP["maxTrialCount"]
        assert {r.info.status for r in trials} == {"FINISHED"}
        assert {r.data.tags["mlflow.parentRunId"] for r in trials} == {sweeps[0].info.run_id}
        assert {r.data.params["n_estimators"] for r in trials} == {"10"}
        parents[user] = sweeps[0].info.run_id
        versions[user] = sweeps[0].data.tags["onepipe.model"].split("/")[1]
    assert client.get_experiment_by_name("credit-risk-dev") is None  # nobody wrote there

    # The registry is shared: both best models are registered and point back to their sweep.
    assert versions["alice"] != versions["bob"]
    all_versions = client.search_model_versions("name='credit-risk'")
    assert {str(v.version) for v in all_versions} == set(versions.values())
    for user, version in versions.items():
        mv = client.get_model_version("credit-risk", version)
        assert mv.tags.get("onepipe.sweep_run") == parents[user], (user, version, mv.tags)
        assert client.get_run(mv.run_id).data.tags["onepipe.user"] == user
    holder = str(client.get_registered_model("credit-risk").aliases["challenger"])
    assert holder in versions.values()  # dev's challenger: whichever sweep finished last

    # Two sweeps finishing together once lost the race on a new alias (the server inserts
    # it without an upsert): many clients setting one new alias at once all succeed.
    _set_new_aliases_at_once(client, "credit-risk", versions["alice"])

    # The same PostgreSQL holds the deployment history / prediction store database.
    pg_port = json.loads((data / "server.json").read_text())["pg_port"]
    store_password = team_server.credentials("alice")["ONEPIPE_STORE_PASSWORD"]
    history = open_history_url(f"postgresql://onepipe:{store_password}@127.0.0.1:{pg_port}/onepipe")
    history.record(
        env="dev",
        backend="mlserver",
        action="deploy",
        user="alice",
        state=DeploymentState("credit-risk", versions["alice"]),
        reason="team test",
    )
    assert len(history.list(env="dev", backend="mlserver", model="credit-risk")) == 1

    # Ctrl-C stops both servers cleanly; the printed settings are what teammates need.
    server.send_signal(signal.SIGINT)
    out, err = server.communicate(timeout=90)
    assert server.returncode == 0, err[-2000:]
    out = team_server.startup
    printed = yaml.safe_load(out[out.index("tracking:") : out.index("and load their")])
    assert printed["tracking"]["uri"] == url
    assert printed["serve"]["history_url"] == printed["monitor"]["store_url"]
    assert printed["serve"]["history_url"] == (
        f"postgresql://onepipe:${{ONEPIPE_STORE_PASSWORD}}@127.0.0.1:{pg_port}/onepipe"
    )  # the password stays out of onepipe.yaml
    assert not (data / "pgdata" / "postmaster.pid").exists()
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"{url}/health", timeout=2)


def _set_new_aliases_at_once(client, name: str, version: str, clients: int = 8) -> None:
    import threading

    from onepipe.tracking.registry import set_alias

    for round_ in range(4):
        alias = f"race-{round_}"
        barrier = threading.Barrier(clients)
        failures: list[BaseException] = []

        def set_it(
            alias: str = alias, barrier: threading.Barrier = barrier, failures=failures
        ) -> None:
            barrier.wait()
            try:
                set_alias(client, name, alias, version)
            except BaseException as exc:  # noqa: BLE001 - collected and asserted below
                failures.append(exc)

        threads = [threading.Thread(target=set_it) for _ in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not failures, failures[0]
        assert str(client.get_registered_model(name).aliases[alias]) == version
