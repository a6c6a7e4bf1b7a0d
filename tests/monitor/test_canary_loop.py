"""The canary loop as the Helm chart's CronJob runs it, against the kmock API emulator.

One cycle is the CronJob's command (``onepipe canary analyze --auto --json --since 1d``,
with ONEPIPE_ENV and ONEPIPE_USER as the chart sets them) in env ``acc``, whose serve
backend routes through a SeldonDeployment. The real ``kubernetes`` client finds the
emulator by $KUBECONFIG, the real prediction store holds the labelled traffic, the real
MLflow registry moves the aliases. The emulator stores objects only: a stand-in plays
Seldon's operator (every spec is Available at once; what becomes of the pods is not the
loop's business).
"""

from __future__ import annotations

import json

import pytest
import yaml
from onepipe_testkit import Emulator, labelled_traffic

pytestmark = pytest.mark.slow

LOOP_USER = "onepipe-canary-loop"  # the chart's canary.serviceAccountName, its ONEPIPE_USER


@pytest.fixture(scope="module")
def kube(project, tmp_path_factory):
    """The emulator as the cluster the loop's pod talks to, found by $KUBECONFIG."""
    from kubernetes.config import kube_config

    from onepipe.serve.seldon.render import GROUP, PLURAL

    with Emulator() as emulator:
        emulator.operate(GROUP, PLURAL, lambda obj: {"state": "Available"})
        path = str(emulator.kubeconfig(tmp_path_factory.mktemp("kube") / "kubeconfig"))
        patch = pytest.MonkeyPatch()
        patch.setenv("KUBECONFIG", path)
        patch.setattr(kube_config, "KUBE_CONFIG_DEFAULT_LOCATION", path)
        yield emulator
        patch.undo()


@pytest.fixture(scope="module")
def acc(project, kube):
    """Env acc (seldon, namespace onepipe-acc) on this machine's registry, history and
    prediction store; the registry roles dev's runs set, given to acc's aliases."""
    from onepipe.config import load_settings
    from onepipe.tracking.aliases import alias
    from onepipe.tracking.client import client_for

    path = project / "onepipe.yaml"
    doc = yaml.safe_load(path.read_text())
    acc = doc["environments"]["acc"]
    acc["tracking"] = {"uri": "sqlite:///.onepipe/mlflow.db"}
    acc["serve"]["history_url"] = ".onepipe/acc-history.db"
    acc["serve"]["seldon"]["ready_timeout_s"] = 0
    acc["monitor"] = {"store_url": ".onepipe/acc-predictions.db"}
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    settings = load_settings(path, env="acc", user="deployer")
    client = client_for(settings)
    for role, version in client.get_registered_model("credit-risk").aliases.items():
        if role in ("champion", "challenger"):
            client.set_registered_model_alias("credit-risk", alias(settings, role), version)
    return settings


def _traffic(settings, correct: dict[str, int], prefix: str, n: int = 300) -> None:
    """``n`` one-row requests per version, answered 1, with feedback 1 for the first
    ``correct[version]`` of them: each version's accuracy is ``correct / n``."""
    from onepipe.monitor.store import open_store

    store = open_store(settings)
    try:
        labelled_traffic(store, correct, prefix, n)
    finally:
        store.close()


def _cycle(project, monkeypatch, capsys) -> dict:
    """One run of the CronJob's container: its command, its environment."""
    from onepipe.cli.main import main

    monkeypatch.chdir(project)
    monkeypatch.setenv("ONEPIPE_ENV", "acc")
    monkeypatch.setenv("ONEPIPE_USER", LOOP_USER)
    code = main(["canary", "analyze", "--auto", "--json", "--since", "1d"])
    cap = capsys.readouterr()
    assert code == 0, cap.err
    return json.loads(cap.out)


def _traffic_split(obj: dict) -> dict[str, tuple[str, int]]:
    return {
        p["name"]: (p["labels"]["onepipe.dev/model-version"], p["traffic"])
        for p in obj["spec"]["predictors"]
    }


def test_one_cycle_waits_then_rolls_back_then_promotes(acc, kube, project, monkeypatch, capsys):
    from onepipe.app.canary import evidence_of
    from onepipe.serve import deployments

    deployments.deploy(acc, champion="1", challenger="2", canary=10, reason="canary for the loop")
    deployer = deployments.deployer_for(acc)
    assert _traffic_split(deployer.get()) == {"main": ("1", 90), "canary": ("2", 10)}
    before = deployments.history(acc)

    # No traffic yet: the verdict waits, nothing is patched, no row is written.
    result = _cycle(project, monkeypatch, capsys)
    assert (result["verdict"], result["applied"]) == ("wait", None)
    assert "needs 50" in result["reason"]
    assert _traffic_split(deployer.get()) == {"main": ("1", 90), "canary": ("2", 10)}
    assert [c.id for c in deployments.history(acc)] == [c.id for c in before]

    # The challenger is clearly worse (accuracy 0.70 vs 0.90 on 300 labelled requests each).
    _traffic(acc, {"1": 270, "2": 210}, "worse-")
    result = _cycle(project, monkeypatch, capsys)
    assert result["verdict"] == "rollback" and result["applied"]
    assert _traffic_split(deployer.get()) == {"main": ("1", 100)}
    latest = deployments.history(acc, limit=1)[0]
    assert (latest.action, latest.user) == ("rollback", LOOP_USER)
    assert (latest.state.champion, latest.state.challenger, latest.state.canary) == ("1", None, 0)
    assert latest.reason.startswith("canary analyze --auto: rollback (challenger is significantly")
    evidence = evidence_of(latest)
    assert evidence["loss_test"]["decision"] == "rollback"
    assert evidence["labelled"] == {"champion": 300, "challenger": 300}
    assert evidence == json.loads(json.dumps(result["evidence"]))  # what the verdict said
    # `onepipe history` shows the reason; the evidence is in its --json.
    from onepipe.cli.main import main

    assert main(["history", "-n", "1"]) == 0
    assert "evidence=" not in capsys.readouterr().out
    assert main(["history", "-n", "1", "--json"]) == 0
    assert "evidence=" in json.loads(capsys.readouterr().out)[0]["reason"]

    # No canary now: the next cycle has nothing to judge and leaves everything as it is.
    rows = len(deployments.history(acc))
    result = _cycle(project, monkeypatch, capsys)
    assert (result["verdict"], result["applied"]) == ("wait", None)
    assert len(deployments.history(acc)) == rows

    # A new canary of v2, better this time (accuracy 0.90 vs 0.80): promoted, 100% to v2.
    deployments.deploy(acc, champion="1", challenger="2", canary=10, reason="second canary")
    _traffic(acc, {"1": 240, "2": 270}, "better-")
    result = _cycle(project, monkeypatch, capsys)
    assert result["verdict"] == "promote" and result["applied"].startswith(
        "promoted credit-risk v2"
    )
    assert _traffic_split(deployer.get()) == {"main": ("2", 100)}
    latest = deployments.history(acc, limit=1)[0]
    assert (latest.action, latest.user, latest.state.champion) == ("promote", LOOP_USER, "2")
    assert evidence_of(latest)["loss_test"]["decision"] == "promote"


def test_the_monitor_exports_how_long_the_canary_has_waited(acc, kube):
    """onepipe_canary_waiting_seconds: the live canary's age from the history, 0 without one."""
    from onepipe.monitor.metrics import LiveMetrics
    from onepipe.monitor.store import open_store
    from onepipe.serve import deployments

    store = open_store(acc)
    try:
        metrics = LiveMetrics(acc, store)
        deployments.deploy(acc, champion="1", challenger="2", canary=10, reason="waiting canary")
        metrics.refresh(force=True)
        text = metrics.exposition().decode()
        (line,) = [
            ln for ln in text.splitlines() if ln.startswith("onepipe_canary_waiting_seconds")
        ]
        assert float(line.split()[-1]) >= 0.0
        changes = deployments.history(acc, limit=1)
        from onepipe.monitor.report import canary_age, change_time

        later = change_time(changes[0]) + 7200
        assert canary_age(changes[0], now=later) == pytest.approx(7200)

        deployments.deploy(acc, champion="1", challenger="2", canary=0, reason="no canary")
        metrics.refresh(force=True)
        assert "onepipe_canary_waiting_seconds 0.0" in metrics.exposition().decode()
    finally:
        store.close()
