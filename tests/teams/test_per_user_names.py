"""Per-user experiments and sweep names in team mode (a shared tracking server)."""

from __future__ import annotations

import yaml

SERVER = "tracking.uri=http://127.0.0.1:5000"


def _settings(tmp_path, user, overrides=()):
    from onepipe.config import load_settings

    cfg = {"project": "credit-risk", "model": {"name": "credit-risk"}}
    (tmp_path / "onepipe.yaml").write_text(yaml.safe_dump(cfg))
    return load_settings(tmp_path / "onepipe.yaml", overrides=list(overrides), user=user)


def test_each_user_has_an_experiment_and_sweep_names_of_their_own(tmp_path):
    from onepipe.sweep.naming import sweep_name
    from onepipe.sweep.trial import trial_spec

    alice = _settings(tmp_path, "alice", [SERVER])
    assert alice.per_user and alice.experiment_name == "credit-risk-dev/alice"
    assert alice.shared_experiment_name == "credit-risk-dev"
    assert sweep_name(alice) == "alice-credit-risk-dev"
    assert sweep_name(alice, "lr-search") == "alice-lr-search"
    assert sweep_name(alice, "alice-lr-search") == "alice-lr-search"  # not twice
    assert sweep_name(_settings(tmp_path, "Bob.Smith", [SERVER])) == "bob-smith-credit-risk-dev"
    # The trial command carries the user, so pods track into the same experiment.
    spec = trial_spec(
        alice, values={}, sweep="alice-x", trial_name="alice-x-0", parent_run_id=None,
        data_commits={},
    )  # fmt: skip
    assert spec.env["ONEPIPE_USER"] == "alice"
    # A configured experiment is the prefix.
    custom = _settings(tmp_path, "alice", [SERVER, "tracking.experiment=risk"])
    assert custom.experiment_name == "risk/alice"


def test_a_local_store_or_no_user_keeps_the_shared_names(tmp_path):
    from onepipe.sweep.naming import sweep_name

    local = _settings(tmp_path, "alice")
    assert not local.team_mode and local.experiment_name == "credit-risk-dev"
    assert sweep_name(local) == "credit-risk-dev"
    nobody = _settings(tmp_path, "anonymous", [SERVER])  # e.g. rendering an env's manifests
    assert nobody.team_mode and not nobody.per_user
    assert nobody.experiment_name == "credit-risk-dev" and sweep_name(nobody) == "credit-risk-dev"
