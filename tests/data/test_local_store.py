"""The embedded store: Pachyderm's model (repos, branches, immutable commits, provenance)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from onepipe.config import load_settings
from onepipe.data import (
    DataStore,
    LocalDataStore,
    open_store,
    open_store_uri,
    parse_ref,
    read_table,
)
from onepipe.data.refs import canonical, commit_id
from onepipe.errors import NotFoundError, OnepipeError, UsageError


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_is_a_datastore(store):
    assert isinstance(store, DataStore)


def test_put_file_and_directory_then_read_back(store, write_files, tmp_path):
    batch = write_files(
        "batch", {"a.csv": "x\n1\n", "sub/b.txt": "bee", "sub/deep/c.bin": b"\x00\x01"}
    )
    single = tmp_path / "single.json"
    single.write_text("{}")

    commit = store.put("loans", [batch, single], message="first batch")

    assert commit.repo == "loans" and commit.branch == "master" and commit.parent is None
    assert commit.message == "first batch"
    assert [f.path for f in commit.files] == ["a.csv", "single.json", "sub/b.txt", "sub/deep/c.bin"]
    assert {f.path: f.hash for f in commit.files}["sub/b.txt"] == sha(b"bee")
    assert store.resolve("loans") == commit == store.resolve("loans@master")
    assert store.read_bytes("loans", "sub/deep/c.bin") == b"\x00\x01"
    assert {e.path: data for e, data in store.iter_files("loans")}["a.csv"] == b"x\n1\n"

    written = store.export("loans@master", tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "a.csv",
        "single.json",
        "sub/b.txt",
        "sub/deep/c.bin",
    ]
    assert (tmp_path / "out" / "sub" / "b.txt").read_text() == "bee"
    assert store.list_repos() == ["loans"]
    assert store.verify() == []


def test_commit_id_is_the_hash_of_its_record(store, write_files):
    commit = store.put("loans", [write_files(files={"a.csv": "1"})])
    record = json.loads((store.root / "commits" / f"{commit.id}.json").read_bytes())
    assert record["id"] == commit.id == commit_id(record)
    assert commit.id == sha(
        canonical(
            {k: record[k] for k in ("repo", "parent", "tree", "message", "time", "provenance")}
        )
    )


def test_identical_content_is_stored_once(store, write_files, count_objects):
    same = "id,amount\n1,100\n"
    store.put("loans", [write_files("one", {"a.csv": same, "b.csv": same, "c.csv": "other"})])
    assert count_objects(store.root) == 2
    store.put("loans", [write_files("two", {"d.csv": same})], branch="dev")
    store.put("other", [write_files("three", {"e.csv": "other"})])
    assert count_objects(store.root) == 2
    assert not list((store.root / "tmp").iterdir())  # no temporaries left by a clean put


def test_put_adds_on_top_of_the_head_and_replace_starts_empty(store, write_files):
    first = store.put("loans", [write_files("b1", {"jan.csv": "1", "keep.csv": "k"})])
    second = store.put("loans", [write_files("b2", {"feb.csv": "2", "keep.csv": "changed"})])
    assert second.parent == first.id
    assert [f.path for f in second.files] == ["feb.csv", "jan.csv", "keep.csv"]
    assert store.read_bytes("loans", "keep.csv") == b"changed"
    assert store.read_bytes(f"loans@{first.id}", "keep.csv") == b"k"

    third = store.put("loans", [write_files("b3", {"only.csv": "3"})], replace=True)
    assert third.parent == second.id
    assert [f.path for f in third.files] == ["only.csv"]


def test_diff_reports_added_removed_modified(store, write_files):
    a = store.put("loans", [write_files("b1", {"same.csv": "s", "gone.csv": "g", "mod.csv": "1"})])
    b = store.put(
        "loans",
        [write_files("b2", {"same.csv": "s", "mod.csv": "2", "new.csv": "n"})],
        replace=True,
    )
    d = store.diff(a.ref, b.ref)
    assert d.added == ("new.csv",) and d.removed == ("gone.csv",) and d.modified == ("mod.csv",)
    back = store.diff("loans@master", a.ref)
    assert back.added == ("gone.csv",) and back.removed == ("new.csv",)
    assert store.diff("loans", "loans") == type(d)((), (), ())


def test_log_follows_parents_newest_first(store, write_files):
    ids = [store.put("loans", [write_files(files={f"{i}.csv": str(i)})]).id for i in range(4)]
    log = store.log("loans")
    assert [c.id for c in log] == ids[::-1]
    assert [c.parent for c in log] == [*ids[::-1][1:], None]
    assert [c.id for c in store.log("loans", limit=2)] == ids[::-1][:2]
    assert [c.id for c in store.log(f"loans@{ids[1][:8]}")] == ids[1::-1]
    with pytest.raises(UsageError, match="at least 1"):
        store.log("loans", limit=0)


def test_refs_by_branch_and_by_commit_prefix(store, write_files):
    c1 = store.put("loans", [write_files(files={"a.csv": "1"})])
    c2 = store.put("loans", [write_files(files={"b.csv": "2"})], branch="dev")
    assert store.resolve("loans@dev") == c2
    if c1.id[:4] != c2.id[:4]:
        assert store.resolve(f"loans@{c1.id[:4]}") == c1
    assert store.resolve(f"loans@{c1.id[:12].upper()}") == c1
    assert store.resolve(c1.ref) == c1
    assert store.branches("loans") == {"dev": c2.id, "master": c1.id}
    # A commit id names a commit of its own repo only.
    store.put("other", [write_files(files={"c.csv": "3"})])
    with pytest.raises(NotFoundError):
        store.resolve(f"other@{c1.id[:12]}")


def test_unknown_refs_name_the_closest_existing_ones(store, write_files):
    c = store.put("loans", [write_files(files={"a.csv": "1"})])
    store.put("loans", [write_files(files={"a.csv": "2"})], branch="develop")
    with pytest.raises(NotFoundError, match=r"loans@mastr.*did you mean: master"):
        store.resolve("loans@mastr")
    with pytest.raises(NotFoundError, match=r"unknown repo 'lons' \(did you mean: loans\?\)"):
        store.resolve("lons@master")
    with pytest.raises(NotFoundError, match=c.id[:12]):
        store.resolve(f"loans@{'0' if c.id[0] != '0' else '1'}{c.id[1:8]}")
    with pytest.raises(NotFoundError, match="no file 'a.cs'.*did you mean: a.csv"):
        store.read_bytes("loans", "a.cs")
    empty = LocalDataStore(store.root.parent / "empty")
    with pytest.raises(NotFoundError, match="no repos yet"):
        empty.resolve("loans")


def test_ambiguous_commit_prefix_lists_the_matches(store, write_files):
    store.put("loans", [write_files(files={"a.csv": "1"})])
    # Two valid commits whose ids share 4 hex characters: found by hashing, not by luck.
    by_prefix: dict[str, dict] = {}
    for i in range(5000):
        record = {"repo": "loans", "parent": None, "tree": {}, "message": f"m{i}", "time": "t"}
        record["provenance"] = []
        record["id"] = commit_id(record)
        twin = by_prefix.setdefault(record["id"][:4], record)
        if twin is not record:
            break
    else:
        pytest.fail("no shared prefix found")
    for rec in (twin, record):
        (store.root / "commits" / f"{rec['id']}.json").write_bytes(canonical(rec))
    prefix = record["id"][:4]
    with pytest.raises(UsageError, match=f"ambiguous ref 'loans@{prefix}': 2 commits") as info:
        store.resolve(f"loans@{prefix}")
    assert twin["id"][:12] in str(info.value) and record["id"][:12] in str(info.value)
    assert store.resolve(f"loans@{record['id'][:20]}").message == record["message"]


def test_commits_are_immutable(store, write_files):
    first = store.put("loans", [write_files(files={"a.csv": "1"})], message="one")
    path = store.root / "commits" / f"{first.id}.json"
    before = path.read_bytes()
    for i in range(3):
        store.put("loans", [write_files(files={"a.csv": f"v{i}"})])
    store.put("loans", [write_files(files={"z.csv": "z"})], replace=True)
    assert path.read_bytes() == before
    assert LocalDataStore(store.root).resolve(f"loans@{first.id[:10]}") == first
    assert store.read_bytes(first.ref, "a.csv") == b"1"


def test_provenance_is_recorded_as_immutable_refs(store, write_files):
    raw = store.put("raw", [write_files(files={"r.csv": "r"})])
    clean = store.put(
        "clean",
        [write_files(files={"c.csv": "c"})],
        provenance=["raw@master", f"raw@{raw.id[:8]}"],
        message="derived",
    )
    assert clean.provenance == (raw.ref,)
    assert store.resolve("clean").provenance == (f"raw@{raw.id}",)
    with pytest.raises(NotFoundError, match="unknown repo 'nope'"):
        store.put("clean", [write_files(files={"d.csv": "d"})], provenance=["nope@master"])
    assert store.resolve("clean") == clean


def test_bad_input_is_a_usage_error_and_writes_nothing(store, write_files, tmp_path):
    head = store.put("loans", [write_files(files={"a.csv": "1"})])
    snapshot = sorted(p.relative_to(store.root) for p in store.root.rglob("*"))

    with pytest.raises(UsageError, match=r"missing\.csv: no such file or directory"):
        store.put("loans", [write_files(files={"b.csv": "2"}), tmp_path / "missing.csv"])
    with pytest.raises(UsageError, match=r"bad repo name 'bad/name' \(expected letters"):
        store.put("bad/name", [write_files(files={"b.csv": "2"})])
    with pytest.raises(UsageError, match="bad branch name '-x'"):
        store.put("loans", [write_files(files={"b.csv": "2"})], branch="-x")
    with pytest.raises(UsageError, match="directory holds no files"):
        store.put("loans", [write_files("empty")])
    with pytest.raises(UsageError, match="nothing to put"):
        store.put("loans", [])
    with pytest.raises(UsageError, match="would both be stored as 'x.csv'"):
        store.put("loans", [write_files(files={"x.csv": "1"}), write_files(files={"x.csv": "2"})])

    with pytest.raises(UsageError, match="is inside the data store"):
        store.put("loans", [store.root / "objects"])

    assert store.resolve("loans") == head
    assert sorted(p.relative_to(store.root) for p in store.root.rglob("*")) == snapshot


@pytest.mark.parametrize(
    "ref, expected",
    [
        ("loans", ("loans", None)),
        ("loans@dev", ("loans", "dev")),
        ("a.b-c_1@ab12", ("a.b-c_1", "ab12")),
    ],
)
def test_parse_ref(ref, expected):
    assert parse_ref(ref) == expected


@pytest.mark.parametrize(
    "ref", ["", "@dev", "loans@", "loans@a@b", "lo ans", "loans@x/y", ".hidden"]
)
def test_parse_ref_rejects_malformed_refs(ref):
    with pytest.raises(UsageError, match="expected"):
        parse_ref(ref)


def test_branches_are_created_from_a_ref(store, write_files):
    c1 = store.put("loans", [write_files(files={"a.csv": "1"})])
    c2 = store.put("loans", [write_files(files={"b.csv": "2"})])
    store.create_branch("loans", "exp")
    store.create_branch("loans", "old", from_ref=f"loans@{c1.id[:8]}")
    assert store.branches("loans") == {"exp": c2.id, "master": c2.id, "old": c1.id}
    on_old = store.put("loans", [write_files(files={"c.csv": "3"})], branch="old")
    assert on_old.parent == c1.id and store.resolve("loans") == c2

    with pytest.raises(UsageError, match="already exists"):
        store.create_branch("loans", "exp", from_ref="loans@old")
    store.put("other", [write_files(files={"o.csv": "o"})])
    with pytest.raises(UsageError, match="must start at a commit of 'loans'"):
        store.create_branch("loans", "mix", from_ref="other")
    with pytest.raises(NotFoundError, match="unknown repo"):
        store.create_branch("nope", "x")
    assert store.branches("loans")["exp"] == c2.id


def test_create_repo_is_idempotent_and_listed(store):
    store.create_repo("empty", "nothing yet")
    store.create_repo("empty")
    assert store.list_repos() == ["empty"] and store.branches("empty") == {}
    meta = json.loads((store.root / "repos" / "empty" / "repo.json").read_text())
    assert meta["description"] == "nothing yet"
    with pytest.raises(NotFoundError, match="no default branch 'master'"):
        store.resolve("empty")
    with pytest.raises(UsageError, match="no 'master' branch"):
        store.create_branch("empty", "dev")


def test_verify_finds_missing_and_corrupt_data(store, write_files):
    c1 = store.put("loans", [write_files(files={"a.csv": "aaa", "b.csv": "bbb"})])
    c2 = store.put("loans", [write_files(files={"c.csv": "ccc"})])
    (store.root / "tmp" / ".tmp-left-by-a-killed-put").write_bytes(b"partial")
    assert store.verify() == []

    store.objects.path(sha(b"aaa")).write_bytes(b"not aaa")
    store.objects.path(sha(b"ccc")).unlink()
    problems = store.verify()
    assert any("a.csv" in p and "corrupt" in p for p in problems)
    assert any("c.csv" in p and "missing" in p for p in problems)
    with pytest.raises(OnepipeError, match="corrupt"):
        store.read_bytes("loans", "a.csv")

    commit_file = store.root / "commits" / f"{c1.id}.json"
    record = json.loads(commit_file.read_bytes())
    record["message"] = "rewritten history"
    commit_file.write_bytes(canonical(record))
    assert any(f"commits/{c1.id}.json" in p and "altered" in p for p in store.verify())

    (store.root / "commits" / f"{c2.id}.json").unlink()
    (store.root / "repos" / "loans" / "branches" / "dev").write_text("not-an-id\n")
    problems = store.verify()
    assert any("loans@master" in p and "missing" in p for p in problems)
    assert any("loans@dev" in p and "not a commit id" in p for p in problems)


def test_read_table_concatenates_csv_and_parquet_in_path_order(store, tmp_path, write_files):
    import pandas as pd

    folder = write_files(files={"b.csv": "id,amount\n3,30\n", "a.csv": "id,amount\n1,10\n2,20\n"})
    pd.DataFrame({"id": [4], "amount": [40]}).to_parquet(folder / "c.parquet")
    (folder / "README.md").write_text("not a table")
    store.put("loans", [folder])
    frame = read_table(store, "loans")
    assert frame["id"].tolist() == [1, 2, 3, 4]
    assert frame["amount"].sum() == 100

    store.put("docs", [write_files(files={"README.md": "x"})])
    with pytest.raises(
        UsageError, match=r"holds no table files \(expected .csv or .parquet; found: README.md\)"
    ):
        read_table(store, "docs")
    store.put("broken", [write_files(files={"x.parquet": "not parquet"})])
    with pytest.raises(UsageError, match="x.parquet: cannot read as Parquet"):
        read_table(store, "broken")


def test_open_store_from_settings_and_from_uri(tmp_path, write_files):
    (tmp_path / "onepipe.yaml").write_text(
        "project: t\nmodel: {name: m}\ndata: {default_branch: main, repos: {loans: {description: L}}}\n"
    )
    settings = load_settings(tmp_path / "onepipe.yaml")
    store = open_store(settings)
    assert isinstance(store, LocalDataStore) and store.root == settings.data_root
    commit = store.put("loans", [write_files(files={"a.csv": "1"})])
    assert commit.branch == "main"
    meta = json.loads((settings.data_root / "repos" / "loans" / "repo.json").read_text())
    assert meta["description"] == "L"

    by_uri = open_store_uri(settings.data_store_uri + "?default_branch=main")
    assert by_uri.resolve("loans") == commit
    assert open_store_uri(Path(settings.data_root).as_uri()).resolve("loans@main") == commit
    with pytest.raises(UsageError, match="expected file:///absolute/path"):
        open_store_uri(
            "s3://bucket/data"
        )  # pachyderm:// URIs: tests/contracts/test_data_store_contract.py


def test_putting_a_folder_that_holds_the_store_leaves_the_store_out(tmp_path):
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "a.csv").write_text("1")
    store = LocalDataStore(project / ".onepipe" / "data")
    store.put("loans", [project / "data"])
    commit = store.put("everything", [project])
    assert [f.path for f in commit.files] == ["data/a.csv"]
