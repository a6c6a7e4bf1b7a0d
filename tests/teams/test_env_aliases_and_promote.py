"""Registry aliases per environment, and ``onepipe promote --from ENV --to ENV``.

Model versions are registered directly (a run with lineage tags and a small
model folder) so these tests need no training.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

PROJECT = {
    "project": "credit-risk",
    "model": {"name": "credit-risk"},
    "tracking": {"uri": "sqlite:///.onepipe/mlflow.db"},
    "environments": {
        "dev": {},
        "acc": {},
        # prod has a registry of its own unless a test overrides tracking.uri
        "prod": {
            "tracking": {
                "uri": "sqlite:///.onepipe/prod/mlflow.db",
                "artifact_location": ".onepipe/prod/mlartifacts",
            },
            "serve": {"history_url": ".onepipe/prod/deployments.db"},
        },
    },
}
SHARED = ["tracking.uri=sqlite:///.onepipe/mlflow.db"]


@pytest.fixture
def root(tmp_path) -> Path:
    (tmp_path / "onepipe.yaml").write_text(yaml.safe_dump(PROJECT))
    return tmp_path


def settings(root: Path, env: str, overrides=(), user: str = "alice"):
    from onepipe.config import load_settings

    return load_settings(root / "onepipe.yaml", env=env, overrides=list(overrides), user=user)


def fake_version(s, tmp: Path, n: int) -> str:
    """A registered version whose run carries lineage tags, params, metrics and its config."""
    from onepipe.tracking.client import client_for, experiment_id
    from onepipe.tracking.registry import register

    client = client_for(s)
    run = client.create_run(
        experiment_id(s),
        tags={
            "onepipe.kind": "pipeline",
            "onepipe.user": s.user,
            "onepipe.git.commit": f"c0ffee{n}",
            "onepipe.data_commits": f'["loans@{n:040d}"]',
            "onepipe.config_hash": s.config_hash,
        },
    )
    rid = run.info.run_id
    client.log_param(rid, "n_estimators", str(10 * n))
    client.log_metric(rid, "roc_auc", 0.7 + n / 100)
    client.log_dict(rid, {"env": s.env, "n": n}, "onepipe/config.json")
    model = tmp / f"model-{n}"
    model.mkdir()
    (model / "MLmodel").write_text(f"flavors: {{}}\nversion: {n}\n")
    ref, _ = register(s, rid, model, f"hash-{n}")
    client.set_terminated(rid)
    return ref.version


def test_alias_names_per_environment():
    from onepipe.tracking.aliases import alias, resolve_alias, role_of

    assert alias("dev", "champion") == "champion"
    assert alias("acc", "champion") == "acc-champion"
    assert alias("prod", "challenger") == "prod-challenger"
    assert resolve_alias("prod", "champion") == "prod-champion"
    assert resolve_alias("prod", "acc-champion") == "acc-champion"  # explicit: as written
    assert role_of("acc", "acc-challenger") == "challenger" and role_of("acc", "champion") is None
    with pytest.raises(ValueError):
        alias("acc", "best")


def test_champion_in_acc_is_not_champion_in_prod(root, tmp_path):
    from onepipe.errors import NotFoundError
    from onepipe.tracking.client import client_for
    from onepipe.tracking.registry import promote, resolve_model

    acc, prod = settings(root, "acc"), settings(root, "prod", SHARED)
    v1 = fake_version(acc, tmp_path, 1)
    assert resolve_model(acc, "credit-risk@challenger").version == v1  # acc-challenger
    with pytest.raises(NotFoundError):
        resolve_model(settings(root, "dev"), "credit-risk@challenger")  # dev has none
    v2 = fake_version(prod, tmp_path, 2)
    promote(acc, "credit-risk", v1)
    promote(prod, "credit-risk")  # prod's challenger
    assert resolve_model(acc, "credit-risk@champion").version == v1
    assert resolve_model(prod, "credit-risk@champion").version == v2
    assert resolve_model(prod, "credit-risk").version == v2  # bare name: this env's champion
    assert resolve_model(prod, "credit-risk@acc-champion").version == v1  # explicit alias
    rm = client_for(acc).get_registered_model("credit-risk")
    aliases = {k: str(v) for k, v in rm.aliases.items()}
    assert aliases == {"acc-champion": v1, "prod-champion": v2}  # challengers consumed


def test_promote_from_acc_to_prod_on_one_registry(root, tmp_path):
    from onepipe.team.promote import promote_between, registry_history
    from onepipe.tracking.registry import promote, resolve_model

    acc, prod = settings(root, "acc", SHARED), settings(root, "prod", SHARED)
    fake_version(acc, tmp_path, 1)
    v2 = fake_version(acc, tmp_path, 2)
    promote(acc, "credit-risk", v2)
    done = promote_between(acc, prod, reason="signed off")
    assert not done.copied and done.source.version == done.target.version == v2
    assert done.previous is None
    assert resolve_model(prod, "credit-risk@champion").version == v2
    assert resolve_model(acc, "credit-risk@champion").version == v2  # acc keeps its alias
    rows = registry_history(prod)
    assert [r.user for r in rows] == ["alice"] and rows[0].state.champion == v2
    assert rows[0].reason == f"acc v{v2} -> prod v{v2} (same registry): signed off"
    assert rows[0].env == "prod" and rows[0].action == "promote"


def test_promote_copies_the_version_into_another_registry(root, tmp_path, cli, monkeypatch):
    import json

    from onepipe.team.promote import registry_history
    from onepipe.tracking.client import client_for
    from onepipe.tracking.lineage import lineage
    from onepipe.tracking.registry import promote, resolve_model

    monkeypatch.setenv("ONEPIPE_USER", "carol")
    acc, prod = settings(root, "acc"), settings(root, "prod")
    assert acc.tracking_uri != prod.tracking_uri
    fake_version(acc, tmp_path, 1)
    v2 = fake_version(acc, tmp_path, 2)
    promote(acc, "credit-risk", v2)
    cfg = str(root / "onepipe.yaml")
    done = cli("promote", "--from", "acc", "--to", "prod", "--reason", "go", "-c", cfg, "--json")
    assert done.code == 0, done.err
    info = json.loads(done.out)
    assert info["copied"] is True and info["from"] == {"env": "acc", "version": v2}
    new = info["to"]["version"]
    assert info["to"]["env"] == "prod" and info["aliases"] == ["prod-champion"]

    pc = client_for(prod)
    mv = pc.get_model_version("credit-risk", new)
    src = resolve_model(acc, f"credit-risk/{v2}")
    assert mv.tags["onepipe.source.registry"] == acc.tracking_uri
    assert mv.tags["onepipe.source.version"] == v2
    assert mv.tags["onepipe.source.run"] == src.run_id
    assert mv.tags["onepipe.model_hash"] == "hash-2"
    # The bytes came along, and the lineage reads back in prod's registry.
    local = pc.download_artifacts(mv.run_id, "model", str(tmp_path / "dl"))
    assert (Path(local) / "MLmodel").read_text().endswith("version: 2\n")
    info = lineage(prod, "credit-risk@champion")
    assert info["git"]["commit"] == "c0ffee2" and info["data"] == [f"loans@{2:040d}"]
    assert info["run"]["params"] == {"n_estimators": "20"}
    assert info["config"]["content"] == {"env": "acc", "n": 2}
    rows = registry_history(prod)
    assert rows[0].user == "carol" and "acc v2 -> prod v1 (copied from" in rows[0].reason
    assert rows[0].reason.endswith(": go")

    # Promoting the same version again reuses the copy; the acc registry is untouched.
    again = cli("promote", "--from", "acc", "--to", "prod", "-c", cfg, "--json")
    assert json.loads(again.out)["copied"] is False
    assert len(pc.search_model_versions("name='credit-risk'")) == 1
    assert resolve_model(acc, "credit-risk@champion").version == v2
    # --from without --to is a usage error; the plain promote still works as before.
    assert cli("promote", "--from", "acc", "-c", cfg).code == 2
