"""An environment's shared resources carry nobody's name: `onepipe render overlays` and
`onepipe up` give the same output whoever runs them; a user's own cluster sweep keeps the
user's prefix."""

from __future__ import annotations

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MANIFESTS = REPO / "manifests"


def _files(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): p.read_text() for p in sorted(root.rglob("*")) if p.is_file()}


def test_render_overlays_by_alice_is_the_committed_manifests(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("ONEPIPE_USER", "alice")
    res = cli("render", "overlays", "-o", str(tmp_path / "m"), cwd=REPO)
    assert res.code == 0, res.err
    rendered = _files(tmp_path / "m")
    assert {"base/kustomization.yaml", "overlays/acc/experiment.yaml"} <= set(rendered)
    committed = {name: (MANIFESTS / name).read_text() for name in rendered}
    assert rendered == committed
    assert [name for name, text in rendered.items() if "alice" in text] == []


def test_up_dry_run_by_alice_names_no_user(cli, monkeypatch):
    monkeypatch.setenv("ONEPIPE_USER", "alice")
    res = cli("up", "--env", "acc", "--dry-run", "--json", cwd=REPO)
    assert res.code == 0, res.err
    assert "alice" not in res.out + res.err
    names = {o["metadata"]["name"] for o in json.loads(res.out)}
    assert "credit-risk-acc" in names  # the environment's Katib Experiment, unprefixed


def test_a_users_own_cluster_sweep_keeps_the_user_prefix():
    from onepipe.config import load_settings
    from onepipe.sweep.katib.experiment import build_experiment

    settings = load_settings(REPO / "onepipe.yaml", env="acc", user="alice")
    experiment = build_experiment(settings, parent_run_id=None, pin_data=False)
    assert experiment["metadata"]["name"] == "alice-credit-risk-acc"
