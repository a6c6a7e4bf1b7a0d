"""Routing rules of the gateway: canary share, sticky users, shadow copies."""

from __future__ import annotations

from collections import Counter

from onepipe.history import DeploymentState
from onepipe.serve.gateway.routing import RoutingTable
from onepipe.serve.models import Column, ServedModel


def _models(*versions):
    cols = (Column("x", "long"),)
    return {v: ServedModel("m", v, "", "", None, cols, None) for v in versions}


def test_weighted_routing_follows_the_canary_share():
    table = RoutingTable.build(DeploymentState("m", "1", "2", 25), _models("1", "2"))
    counts = Counter(table.pick()[0].version for _ in range(4000))
    assert 700 < counts["2"] < 1300 and counts["1"] + counts["2"] == 4000
    full = RoutingTable.build(DeploymentState("m", "1", "2", 100), _models("1", "2"))
    assert {full.pick()[0].version for _ in range(50)} == {"2"}
    none = RoutingTable.build(DeploymentState("m", "1", "2", 0), _models("1", "2"))
    assert {none.pick()[0].version for _ in range(50)} == {"1"}


def test_sticky_and_shadow_routing():
    sticky = RoutingTable.build(DeploymentState("m", "1", "2", 50, sticky=True), _models("1", "2"))
    for user in (f"u{i}" for i in range(50)):
        assert len({sticky.pick(user)[0].version for _ in range(5)}) == 1
    assert {sticky.pick(f"u{i}")[0].version for i in range(200)} == {"1", "2"}
    shadow = RoutingTable.build(DeploymentState("m", "1", "2", 0, shadow=True), _models("1", "2"))
    answer, copy = shadow.pick()
    assert (answer.version, answer.alias, copy.version, copy.alias) == (
        "1",
        "champion",
        "2",
        "challenger",
    )
