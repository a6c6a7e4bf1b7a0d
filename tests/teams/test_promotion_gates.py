"""Promotion gates: ``onepipe promote --from acc --to prod`` checks prod's gates first.

Real models (the session's template: two trained versions of credit-risk), scored on a
real held-out data commit; prod has a registry and a deployment history of its own, so
every accepted promotion copies the version across; the canary gate reads acc's real
deployment history and runs the canary analysis on acc's real prediction store.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import yaml
from onepipe_testkit import free_port, labelled_traffic, private_copy

pytestmark = pytest.mark.slow

PROD = {
    "tracking": {
        "uri": "sqlite:///.onepipe/prod/mlflow.db",
        "artifact_location": ".onepipe/prod/mlartifacts",
    },
    "serve": {"history_url": ".onepipe/prod/deployments.db"},
}


@pytest.fixture
def root(template, tmp_path) -> Path:
    """The template's two versions; acc shares its registry (acc-champion: v2), prod not;
    batch 2 put as the held-out commit."""
    from onepipe.config import load_settings
    from onepipe.data import open_store
    from onepipe.tracking.registry import promote

    root = private_copy(template, tmp_path / "proj", free_port())
    _write(root, None)
    acc = load_settings(root / "onepipe.yaml", env="acc", user="tester")
    promote(acc, "credit-risk", "2")
    batch = root / "data" / "loans" / "batch_2.csv"
    commit = open_store(acc).put("holdout", [batch], message="held out")
    (root / "holdout.txt").write_text(commit.ref)
    return root


def _write(root: Path, promotion: dict | None) -> None:
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    prod = dict(PROD)
    if promotion is not None:
        prod["promotion"] = promotion
    cfg["environments"] = {"dev": {}, "acc": {}, "prod": prod}
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


def _holdout(root: Path) -> str:
    return (root / "holdout.txt").read_text()


def _short(ref: str) -> str:
    repo, _, commit = ref.partition("@")
    return f"{repo}@{commit[:12]}"


def _promote(cli, root: Path, *extra: str):
    cfg = str(root / "onepipe.yaml")
    return cli("promote", "--from", "acc", "--to", "prod", "-c", cfg, *extra)


def _prod(root: Path):
    from onepipe.config import load_settings

    return load_settings(root / "onepipe.yaml", env="prod", user="tester")


def _prod_champion(root: Path) -> str | None:
    from onepipe.errors import NotFoundError
    from onepipe.tracking.registry import resolve_model

    try:
        return resolve_model(_prod(root), "credit-risk@champion").version
    except NotFoundError:
        return None


def test_metric_gate_refuses_then_passes_and_records_the_figures(root, cli):
    from onepipe.team.promote import registry_history

    holdout = _holdout(root)
    _write(root, {"holdout": holdout, "gates": {"metrics": {"roc_auc": 0.5, "accuracy": 0.99}}})
    refused = _promote(cli, root)
    assert refused.code == 1, refused.err
    lines = refused.err.strip().splitlines()
    assert lines[0].startswith("promote credit-risk acc v2 -> prod refused: 1 of 1 gate(s)")
    assert lines[1].startswith(
        f"  gate metrics failed: acc v2 on {_short(holdout)} (2500 rows): accuracy"
    )
    assert "< 0.99 required" in lines[1] and "roc_auc" in lines[1] and ">= 0.5" in lines[1]
    assert _prod_champion(root) is None  # nothing moved, nothing copied
    assert registry_history(_prod(root)) == []

    _write(root, {"holdout": holdout, "gates": {"metrics": {"roc_auc": 0.5, "log_loss": 5.0}}})
    done = _promote(cli, root, "--json", "--reason", "signed off")
    assert done.code == 0, done.err
    info = json.loads(done.out)
    assert info["promoted"] is True and info["forced"] is False
    [gate] = info["gates"]
    assert gate["gate"] == "metrics" and gate["status"] == "passed"
    figures = gate["figures"]["metrics"]
    assert figures["log_loss"]["direction"] == "minimize" and figures["log_loss"]["value"] <= 5.0
    assert 0.5 <= figures["roc_auc"]["value"] <= 1.0 and gate["figures"]["holdout"] == holdout
    assert _prod_champion(root) == info["to"]["version"]
    row = registry_history(_prod(root))[0]
    assert row.reason.startswith("acc v2 -> prod v1 (copied from")
    assert ": signed off [gate metrics passed: acc v2 on " in row.reason
    assert f"roc_auc {figures['roc_auc']['value']:.4g} >= 0.5" in row.reason
    from onepipe.tracking.client import client_for

    tag = client_for(_prod(root)).get_model_version("credit-risk", "1").tags
    assert json.loads(tag["onepipe.promotion.gates"])["gates"][0]["figures"]["metrics"] == figures


def test_champion_gate_skips_without_a_champion_then_compares(root, cli):
    from onepipe.team.promote import registry_history

    holdout = _holdout(root)
    _write(root, {"holdout": holdout, "gates": {"champion": {"metric": "roc_auc"}}})
    first = _promote(cli, root, "--version", "1", "--json")
    assert first.code == 0, first.err
    [gate] = json.loads(first.out)["gates"]
    assert gate["status"] == "skipped" and "prod has no champion" in gate["summary"]
    assert "gate champion skipped" in registry_history(_prod(root))[0].reason

    # acc's champion v2 against prod's (v1's copy) on the same commit, in roc_auc's direction.
    probe = _promote(cli, root, "--json")
    figures = json.loads(probe.out)["gates"][0]["figures"]
    worse_by = figures["worse_by"]
    assert worse_by == pytest.approx(figures["champion"]["value"] - figures["candidate"]["value"])
    assert figures["champion"]["version"] == "1" and figures["candidate"]["version"] == "2"
    # Whichever is better, the worse one must not replace the better one at margin 0.
    better, worse = ("1", "2") if worse_by > 0 else ("2", "1")
    if probe.code == 0:  # v2 was better (or equal): it is prod's champion now
        assert _prod_champion(root) == "2"
    else:
        assert probe.code == 1 and _prod_champion(root) == "1"
    assert _prod_champion(root) == better
    refused = _promote(cli, root, "--version", worse)
    assert refused.code == 1
    line = refused.err.strip().splitlines()[1]
    assert line.startswith("  gate champion failed: roc_auc ") and f"(acc v{worse})" in line
    assert f"(prod champion v{better}) on {_short(holdout)}: worse by " in line
    assert "more than the 0 absolute margin (0)" in line
    # A relative margin wide enough lets it through; the figures say so.
    _write(root, {"holdout": holdout, "gates": {"champion": {"margin": 0.5, "relative": True}}})
    done = _promote(cli, root, "--version", worse, "--json")
    assert done.code == 0, done.err
    [gate] = json.loads(done.out)["gates"]
    assert gate["status"] == "passed" and gate["figures"]["metric"] == "roc_auc"  # primary
    assert "within the 50.00% relative margin" in gate["summary"]


def test_canary_gate_reads_the_source_canary(root, cli):
    from onepipe.config import load_settings
    from onepipe.monitor.store import open_store
    from onepipe.serve import deployments
    from onepipe.team.promote import registry_history

    _write(root, {"gates": {"canary": True}})
    none = _promote(cli, root)
    assert none.code == 1
    assert none.err.strip().splitlines()[1] == (
        "  gate canary failed: v2 never ran as a canary in acc (no change in its deployment "
        "history, backend mlserver, routed traffic to it as the challenger)"
    )
    acc = load_settings(root / "onepipe.yaml", env="acc", user="tester")
    deployments.deploy(acc, canary=20, champion="1", challenger="2", reason="canary")
    time.sleep(0.01)
    store = open_store(acc)
    labelled_traffic(store, {"1": 860, "2": 780}, "worse")  # v2 significantly worse: rollback
    store.close()
    worse = _promote(cli, root, "--version", "2")
    assert worse.code == 1
    line = worse.err.strip().splitlines()[1]
    assert line.startswith("  gate canary failed: acc canary of v2 vs v1 (change #1, ")
    assert "says rollback: challenger is significantly worse" in line

    # A later canary of v2 that wins: the last canary decides.
    deployments.deploy(acc, canary=0, champion="1", reason="withdrawn")
    deployments.deploy(acc, canary=30, champion="1", challenger="2", reason="again")
    time.sleep(0.01)
    store = open_store(acc)
    labelled_traffic(store, {"1": 780, "2": 860}, "better")
    store.close()
    done = _promote(cli, root, "--version", "2", "--json")
    assert done.code == 0, done.err
    [gate] = json.loads(done.out)["gates"]
    assert gate["status"] == "passed" and gate["figures"]["change"] == 3
    assert gate["figures"]["verdict"]["verdict"] == "promote"
    assert gate["figures"]["verdict"]["means"] == pytest.approx(
        {"champion": 0.22, "challenger": 0.14}
    )
    reason = registry_history(_prod(root))[0].reason
    assert "[gate canary passed: acc canary of v2 vs v1 (change #3, " in reason
    assert "says promote: challenger is no worse" in reason


def test_force_promotes_past_failed_gates_and_records_them(root, cli):
    from onepipe.team.promote import registry_history

    holdout = _holdout(root)
    _write(
        root,
        {"holdout": holdout, "gates": {"metrics": {"accuracy": 0.999}, "canary": True}},
    )
    done = _promote(cli, root, "--force", "--json")
    assert done.code == 0, done.err
    info = json.loads(done.out)
    assert info["forced"] is True and [g["status"] for g in info["gates"]] == ["failed"] * 2
    assert _prod_champion(root) == info["to"]["version"]
    reason = registry_history(_prod(root))[0].reason
    assert "[FORCED past failed gate(s) metrics, canary: gate metrics failed: " in reason
    assert "accuracy" in reason and "< 0.999 required" in reason
    assert "gate canary failed: v2 never ran as a canary in acc" in reason
    text = _promote(cli, root, "--force")
    assert text.code == 0 and "--force: promoted past failed gate(s) metrics, canary" in text.err
    # --force means nothing without --from/--to.
    assert cli("promote", "--force", "-c", str(root / "onepipe.yaml")).code == 2


def test_no_gates_moves_as_before(root, cli):
    from onepipe.team.promote import registry_history

    done = _promote(cli, root, "--json", "--reason", "go")
    assert done.code == 0, done.err
    info = json.loads(done.out)
    assert info["gates"] == [] and info["forced"] is False
    row = registry_history(_prod(root))[0]
    assert row.reason.endswith(
        "(copied from sqlite:///" + str(root) + "/.onepipe/mlflow.db v2): go"
    )


def test_a_gate_that_cannot_be_evaluated_stops_unless_forced(root, cli):
    _write(root, {"holdout": "holdout@deadbeef", "gates": {"metrics": {"accuracy": 0.5}}})
    missing = _promote(cli, root)
    assert missing.code == 2 and missing.out == ""
    [line] = missing.err.strip().splitlines()
    assert line.startswith("error: promotion.holdout holdout@deadbeef: ")
    assert _prod_champion(root) is None
    forced = _promote(cli, root, "--force", "--json")
    assert forced.code == 0, forced.err
    [gate] = json.loads(forced.out)["gates"]
    assert gate["status"] == "error" and gate["summary"].startswith("could not be evaluated: ")
