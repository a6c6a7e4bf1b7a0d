"""The ``DataStore`` contract, run against every data store the registry declares.

Stand-ins (data_store_standins.py): ``local``, the embedded store; ``pachyderm``,
``PachydermDataStore`` on an in-memory stand-in for the few pachyderm-sdk PFS calls it
makes (the store's own code, no pachd). ``pachyderm-pachd`` runs the same suite against
a real pachd, only when ``ONEPIPE_TEST_PACHYDERM=host:port`` is set (each test then
works in fresh, uniquely named repos of the ``default`` project).

Content addressing, crash safety and on-disk corruption are local-only
(test_local_store.py, test_crash_and_concurrency.py).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest
from contract_registry import backend_params, check_coverage, registered, standin_for
from data_store_standins import STANDINS, Names

from onepipe.data import DataStore, read_table
from onepipe.data.pachyderm.store import PachydermDataStore
from onepipe.errors import NotFoundError, UsageError

REAL = os.environ.get("ONEPIPE_TEST_PACHYDERM", "")
STAGE = "data"
WHERE = "tests/contracts/data_store_standins.py"
PACHD = pytest.param(
    "pachyderm-pachd",
    marks=pytest.mark.skipif(not REAL, reason="set ONEPIPE_TEST_PACHYDERM=host:port"),
)


@pytest.fixture(params=[*backend_params(registered(STAGE), STANDINS), PACHD])
def backend(request, tmp_path: Path) -> tuple[DataStore, Names]:
    if request.param == "pachyderm-pachd":
        host, _, port = REAL.rpartition(":")
        return PachydermDataStore.connect(host, int(port)), Names("-" + uuid.uuid4().hex[:8])
    return standin_for(request.param, STANDINS, WHERE).build(request, tmp_path)


def test_every_registered_data_store_has_a_standin():
    check_coverage(registered(STAGE), STANDINS, WHERE)


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
