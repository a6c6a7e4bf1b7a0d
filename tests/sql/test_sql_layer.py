"""The SQL layer: what a URL opens, owner-only SQLite files, the lock, masked errors.

What the stores do on top (history, intents, prediction store) is tested with them,
on SQLite and on a real PostgreSQL (tests/history, tests/monitor, tests/serve).
"""

from __future__ import annotations

import stat

import pytest

from onepipe.errors import ConfigError
from onepipe.history import open_history_url
from onepipe.monitor.protocol import PredictionRecord
from onepipe.monitor.store import open_url
from onepipe.sql import LockTimeout, open_database
from onepipe.sql.postgres import PostgresDatabase
from onepipe.sql.sqlite import SqliteDatabase


def test_a_url_names_a_sqlite_file_or_a_postgresql_database(tmp_path):
    relative = open_database(".onepipe/p.db", key="monitor.store_url", root=tmp_path)
    assert isinstance(relative, SqliteDatabase)
    assert relative.path == tmp_path / ".onepipe" / "p.db" and relative.path.is_file()
    assert open_database("sqlite:///x.db", key="k", root=tmp_path).path == tmp_path / "x.db"
    absolute = tmp_path / "elsewhere" / "y.db"
    assert open_database(f"sqlite:///{absolute}", key="k", root=tmp_path / "p").path == absolute
    for url in ("postgresql://u@h/db", "postgres://u@h/db"):
        assert isinstance(open_database(url, key="k"), PostgresDatabase)  # not connected yet
    with pytest.raises(ConfigError, match=r"^monitor.store_url: unsupported 'mysql' \(expected"):
        open_database("mysql://h/db", key="monitor.store_url")


def test_sqlite_files_are_their_owners_only(tmp_path):
    history = open_history_url(str(tmp_path / "history.db"))
    with history.lock("dev/mlserver/m", wait_s=1):
        pass
    store = open_url(str(tmp_path / "predictions.db"))
    try:
        store.write_batch([PredictionRecord("r1", 1.0, "m", "1", inputs={"x": [1]})])
        files = [
            tmp_path / "history.db",
            tmp_path / "history.db.lock",
            tmp_path / "predictions.db",
            tmp_path / "predictions.db-wal",  # the open connection keeps WAL and SHM
            tmp_path / "predictions.db-shm",
        ]
        modes = {f.name: oct(stat.S_IMODE(f.stat().st_mode)) for f in files}
    finally:
        store.close()
    assert modes == {f.name: "0o600" for f in files}


def test_a_held_lock_times_out_and_says_so(tmp_path):
    db = open_database(str(tmp_path / "h.db"), key="serve.history_url")
    waits = []
    with db.lock("a", wait_s=5):
        with pytest.raises(LockTimeout, match="still held by another process"):
            with db.lock("a", wait_s=0.3, on_wait=lambda: waits.append(1)):
                pytest.fail("two holders of one lock")
    assert waits == [1]  # told once that it waits
    with db.lock("a", wait_s=0):  # released by its holder
        pass


def test_an_added_column_reaches_an_older_table(tmp_path):
    db = open_database(str(tmp_path / "old.db"), key="k")
    with db.connect() as conn:
        conn.execute("CREATE TABLE t (a TEXT)")
        db.add_columns(conn, "t", {"a": "TEXT", "b": "TEXT"})
        db.add_columns(conn, "t", {"b": "TEXT"})  # a second opener finds it there
        assert db.columns(conn, "t") == {"a", "b"}


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://onepipe:s3cret@127.0.0.1:1/onepipe",  # nothing listens on port 1
        "postgresql://onepipe:s3c ret@127.0.0.1/onepipe",  # libpq quotes the broken part
    ],
)
def test_a_postgresql_that_cannot_be_reached_is_one_line_without_the_password(url):
    pytest.importorskip("psycopg")
    db = open_database(url, key="serve.history_url")
    with pytest.raises(ConfigError) as refused:
        db.connection()
    message = str(refused.value)
    assert message.startswith("serve.history_url: cannot connect to PostgreSQL (")
    assert "\n" not in message and "s3c" not in message and "s3c" not in repr(db)


@pytest.mark.parametrize(
    ("where", "said"),
    [("onepipe.yaml/p.db", "onepipe.yaml is in the way"), (".", "is in the way")],
)
def test_a_sqlite_path_that_cannot_be_a_file_is_one_line(tmp_path, where, said):
    (tmp_path / "onepipe.yaml").write_text("project: t\n")
    with pytest.raises(ConfigError, match=r"^monitor.store_url: .*") as refused:
        open_database(where, key="monitor.store_url", root=tmp_path)
    assert said in str(refused.value) and "expected a path to a file" in str(refused.value)
