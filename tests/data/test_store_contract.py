"""The ``DataStore`` contract, run against every backend.

* ``local``: the embedded store.
* ``pachyderm-standin``: ``PachydermDataStore`` on an in-memory stand-in for the few
  pachyderm-sdk PFS calls it makes (onepipe.testing_pfs): the store's own code, no pachd.
* ``pachyderm``: a real pachd, only when ``ONEPIPE_TEST_PACHYDERM=host:port`` is set
  (each test then works in fresh, uniquely named repos of the ``default`` project).

Content addressing, crash safety and on-disk corruption are local-only
(test_local_store.py, test_crash_and_concurrency.py).
"""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from onepipe.data import DataStore, LocalDataStore, open_store_uri, read_table
from onepipe.data.pachyderm import PachydermDataStore
from onepipe.errors import ConfigError, NotFoundError, UsageError
from onepipe.testing_pfs import InMemoryPachyderm

REAL = os.environ.get("ONEPIPE_TEST_PACHYDERM", "")
BACKENDS = [
    "local",
    "pachyderm-standin",
    pytest.param(
        "pachyderm",
        marks=pytest.mark.skipif(not REAL, reason="set ONEPIPE_TEST_PACHYDERM=host:port"),
    ),
]


class Names:
    """Repo names unique per test on a shared real cluster; plain names elsewhere."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def __call__(self, name: str) -> str:
        return f"{name}{self.suffix}"


@pytest.fixture(params=BACKENDS)
def backend(request, tmp_path: Path) -> tuple[DataStore, Names]:
    if request.param == "local":
        return LocalDataStore(tmp_path / "store"), Names("")
    if request.param == "pachyderm-standin":
        return PachydermDataStore(client=InMemoryPachyderm()), Names("")
    host, _, port = REAL.rpartition(":")
    return PachydermDataStore.connect(host, int(port)), Names("-" + uuid.uuid4().hex[:8])


def test_is_a_datastore(backend):
    store, _ = backend
    assert isinstance(store, DataStore)


def test_put_read_export_round_trip(backend, write_files, tmp_path):
    store, n = backend
    loans = n("loans")
    batch = write_files("batch", {"a.csv": "x\n1\n", "sub/b.txt": "bee", "sub/deep/c.bin": b"\0\1"})
    commit = store.put(loans, [batch], message="first batch")

    assert commit.repo == loans and commit.branch == "master" and commit.message == "first batch"
    assert [f.path for f in commit.files] == ["a.csv", "sub/b.txt", "sub/deep/c.bin"]
    assert [f.size for f in commit.files] == [4, 3, 2]
    assert store.resolve(loans) == commit == store.resolve(f"{loans}@master")
    assert store.resolve(commit.ref) == commit
    assert store.read_bytes(loans, "sub/deep/c.bin") == b"\0\1"
    assert {e.path: data for e, data in store.iter_files(loans)}["a.csv"] == b"x\n1\n"
    written = store.export(commit.ref, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "a.csv",
        "sub/b.txt",
        "sub/deep/c.bin",
    ]
    assert loans in store.list_repos()
    assert store.verify() == []


def test_put_adds_on_top_and_replace_starts_empty(backend, write_files):
    store, n = backend
    loans = n("loans")
    first = store.put(loans, [write_files("b1", {"jan.csv": "1", "keep.csv": "k"})])
    second = store.put(loans, [write_files("b2", {"feb.csv": "2", "keep.csv": "changed"})])
    assert second.parent == first.id and second.id != first.id
    assert [f.path for f in second.files] == ["feb.csv", "jan.csv", "keep.csv"]
    assert store.read_bytes(loans, "keep.csv") == b"changed"
    assert store.read_bytes(f"{loans}@{first.id}", "keep.csv") == b"k"
    third = store.put(loans, [write_files("b3", {"only.csv": "3"})], replace=True)
    assert third.parent == second.id and [f.path for f in third.files] == ["only.csv"]


def test_diff_log_and_commit_prefixes(backend, write_files):
    store, n = backend
    loans = n("loans")
    a = store.put(loans, [write_files("b1", {"same.csv": "s", "gone.csv": "g", "mod.csv": "1"})])
    b = store.put(
        loans, [write_files("b2", {"same.csv": "s", "mod.csv": "2", "new.csv": "n"})], replace=True
    )
    d = store.diff(a.ref, b.ref)
    assert (d.added, d.removed, d.modified) == (("new.csv",), ("gone.csv",), ("mod.csv",))
    assert store.diff(loans, loans) == type(d)((), (), ())

    log = store.log(loans)
    assert [c.id for c in log[:2]] == [b.id, a.id]
    assert [c.id for c in store.log(loans, limit=1)] == [b.id]
    assert store.resolve(f"{loans}@{a.id[:10]}") == a
    assert store.resolve(f"{loans}@{a.id[:12].upper()}") == a
    with pytest.raises(UsageError, match="at least 1"):
        store.log(loans, limit=0)


def test_branches_and_provenance(backend, write_files):
    store, n = backend
    loans, clean = n("loans"), n("clean")
    c1 = store.put(loans, [write_files(files={"a.csv": "1"})])
    c2 = store.put(loans, [write_files(files={"b.csv": "2"})])
    store.create_branch(loans, "exp")
    store.create_branch(loans, "old", from_ref=f"{loans}@{c1.id[:8]}")
    assert store.branches(loans) == {"exp": c2.id, "master": c2.id, "old": c1.id}
    on_old = store.put(loans, [write_files(files={"c.csv": "3"})], branch="old")
    assert on_old.parent == c1.id and on_old.branch == "old" and store.resolve(loans) == c2
    with pytest.raises(UsageError, match="already exists"):
        store.create_branch(loans, "exp", from_ref=f"{loans}@old")

    derived = store.put(
        clean, [write_files(files={"c.csv": "c"})], provenance=[f"{loans}@old"], message="derived"
    )
    assert derived.provenance == (f"{loans}@{on_old.id}",) and derived.message == "derived"
    assert store.resolve(clean).provenance == derived.provenance


def test_unknown_names_say_what_exists(backend, write_files):
    store, n = backend
    loans = n("loans")
    store.put(loans, [write_files(files={"a.csv": "1"})])
    with pytest.raises(NotFoundError, match="did you mean: master"):
        store.resolve(f"{loans}@mastr")
    with pytest.raises(NotFoundError, match="unknown repo"):
        store.resolve(n("lons") + "x@master")
    with pytest.raises(NotFoundError, match="no file 'a.cs'.*did you mean: a.csv"):
        store.read_bytes(loans, "a.cs")
    with pytest.raises(UsageError, match="bad branch name"):
        store.put(loans, [write_files(files={"b.csv": "2"})], branch="-x")
    store.create_repo(n("empty"), "nothing yet")
    assert store.branches(n("empty")) == {}
    with pytest.raises(NotFoundError, match="no default branch 'master'"):
        store.resolve(n("empty"))


def test_read_table_reads_the_commit(backend, write_files):
    store, n = backend
    store.put(n("loans"), [write_files(files={"b.csv": "id\n3\n", "a.csv": "id\n1\n2\n"})])
    assert read_table(store, n("loans"))["id"].tolist() == [1, 2, 3]


# ---- Pachyderm-specific: ids, failed puts, opening by URI ----------------------------


def test_pachyderm_ids_are_its_own_not_content_hashes(write_files):
    store = PachydermDataStore(client=InMemoryPachyderm())
    same = write_files(files={"a.csv": "1"})
    one, two = store.put("loans", [same]), store.put("loans", [same])
    assert one.id != two.id and len(one.id) == 32  # the embedded store's ids are 64-hex hashes
    assert [f.hash for f in one.files] == [f.hash for f in two.files]
    assert store.diff(one.ref, two.ref) == type(store.diff(one.ref, one.ref))((), (), ())


def test_a_failed_put_leaves_the_branch_where_it_was(write_files, tmp_path, monkeypatch):
    client = InMemoryPachyderm()
    store = PachydermDataStore(client=client)
    head = store.put("loans", [write_files(files={"a.csv": "1"})])
    calls = {"n": 0}
    real = client.pfs.put_file_from_bytes

    def flaky(**kw):
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("connection reset")
        return real(**kw)

    monkeypatch.setattr(client.pfs, "put_file_from_bytes", flaky)
    with pytest.raises(OSError):
        store.put("loans", [write_files(files={"b.csv": "2", "c.csv": "3"})])
    assert store.resolve("loans") == head


def test_open_store_uri_opens_pachyderm_and_fails_fast_when_unreachable(monkeypatch):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConfigError, match=f"pachyderm at 127.0.0.1:{port} is unreachable"):
        open_store_uri(f"pachyderm://127.0.0.1:{port}/default")

    seen = {}

    def fake_connect(cls, host, port, project="default", default_branch="master", **kw):
        seen.update(host=host, port=port, project=project, branch=default_branch)
        return PachydermDataStore(client=InMemoryPachyderm(), project=project)

    monkeypatch.setattr(PachydermDataStore, "connect", classmethod(fake_connect))
    store = open_store_uri("pachyderm://pachd.onepipe-prod.svc:30650/credit?default_branch=main")
    assert isinstance(store, PachydermDataStore) and store.project == "credit"
    assert seen == {
        "host": "pachd.onepipe-prod.svc",
        "port": 30650,
        "project": "credit",
        "branch": "main",
    }
