"""The ``promotion:`` section (gates of ``promote --from --to``): typed, refused at load when wrong."""

from __future__ import annotations

import pytest

from onepipe.config import load_settings
from onepipe.errors import ConfigError

BASE = """\
project: demo
model: {name: m, task: TASK}
"""

REFUSED = {
    "unknown-metric": (
        "promotion: {holdout: h@abcd, gates: {metrics: {roc_aux: 0.8}}}",
        "onepipe.yaml: promotion.gates.metrics: 'roc_aux' is not a metric onepipe computes "
        "(expected one of: roc_auc,",
    ),
    "no-holdout": (
        "promotion: {gates: {metrics: {roc_auc: 0.8}}}",
        "onepipe.yaml: promotion: holdout: missing (the metrics and champion gates score "
        "the model on it; expected REPO@COMMIT",
    ),
    "holdout-form": (
        "promotion: {holdout: 'holdout', gates: {canary: true}}",
        "onepipe.yaml: promotion.holdout: expected REPO@COMMIT (or REPO@BRANCH), e.g. "
        "loans-holdout@3f2a9c1e, found 'holdout'",
    ),
    "threshold-type": (
        "promotion: {holdout: h@abcd, gates: {metrics: {roc_auc: high}}}",
        "onepipe.yaml: promotion.gates.metrics.roc_auc: expected a number, found 'high'",
    ),
    "negative-margin": (
        "promotion: {holdout: h@abcd, gates: {champion: {margin: -0.1}}}",
        "onepipe.yaml: promotion.gates.champion.margin: input should be greater than or equal "
        "to 0, found -0.1",
    ),
    "unknown-gate": (
        "promotion: {gates: {latency: 3}}",
        "onepipe.yaml: promotion.gates.latency: unknown key",
    ),
    "wrong-task": (
        "promotion: {holdout: h@abcd, gates: {metrics: {rmse: 25}}}",
        "onepipe.yaml: promotion.gates.metrics.rmse: rmse is not a binary metric (model.task "
        "is binary; expected one of: roc_auc,",
    ),
    "champion-wrong-task": (
        "environments: {prod: {promotion: {holdout: h@abcd, gates: {champion: {metric: rmse}}}}}",
        "onepipe.yaml: promotion.gates.champion.metric: rmse is not a binary metric",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_bad_gates_are_refused_at_load_with_one_line(tmp_path, case, cli):
    text, expected = REFUSED[case]
    path = tmp_path / "onepipe.yaml"
    path.write_text(BASE.replace("TASK", "binary") + text + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(path, env="prod")
    message = str(info.value)
    assert message.startswith(expected) and "\n" not in message
    result = cli("config", "show", "-c", str(path), "--env", "prod")
    assert result.code == 2 and result.out == ""
    assert result.err.strip().splitlines() == [f"error: {message}"]


def test_gates_are_per_environment_and_typed(tmp_path):
    path = tmp_path / "onepipe.yaml"
    path.write_text(
        BASE.replace("TASK", "regression")
        + "promotion: {gates: {canary: true}}\n"
        + "environments:\n"
        + "  prod:\n"
        + "    promotion:\n"
        + "      holdout: houses-holdout@3f2a9c1e\n"
        + "      gates: {metrics: {rmse: 25, r2: 0.6}, champion: {margin: 0.05, relative: true}}\n"
    )
    prod = load_settings(path, env="prod").promotion
    assert prod.holdout == "houses-holdout@3f2a9c1e"
    assert prod.gates.metrics == {"rmse": 25.0, "r2": 0.6} and prod.gates.canary is True
    assert (prod.gates.champion.margin, prod.gates.champion.relative) == (0.05, True)
    assert prod.gates.champion.metric is None  # the project's primary metric
    acc = load_settings(path, env="acc").promotion
    assert acc.gates.canary and not acc.gates.metrics and acc.gates.champion is None
    plain = tmp_path / "plain" / "onepipe.yaml"
    plain.parent.mkdir()
    plain.write_text(BASE.replace("TASK", "binary"))
    assert not load_settings(plain, env="prod").promotion.gates.declared
