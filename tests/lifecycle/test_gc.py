"""``onepipe gc``: collects what killed puts and old runs left, keeps everything reachable.

Real puts killed with SIGKILL, real pipeline runs with a real MLflow registry (SQLite),
real concurrent writers. Sizes are checked against the files on disk.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from killed_put import kill_a_put
from napping_project import make_napping_project
from onepipe_testkit import FAST, copy_project

from onepipe.data import LocalDataStore
from onepipe.lifecycle.swept import size_of

HOUR = 3600


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _entries(root: Path) -> dict[str, Path]:
    cache = root / ".onepipe" / "cache"
    return {p.name: p for p in cache.glob("??/*") if p.is_dir() and len(p.name) == 64}


def _kinds(report: dict, area: str) -> dict[str, dict[str, int]]:
    found = next(a for a in report["areas"] if a["area"] == area)
    assert found["skipped"] is None, found
    return found["kinds"]


def test_put_removes_temp_files_older_than_an_hour(tmp_path):
    root = tmp_path / "store"
    store = LocalDataStore(root)
    (tmp_path / "seed.csv").write_text("a\n1\n")
    store.put("seed", [tmp_path / "seed.csv"])
    old, _ = kill_a_put(root, tmp_path / "one", "one")
    for f in old:
        _age(f, 2 * HOUR)
    fresh, _ = kill_a_put(root, tmp_path / "two", "two")  # as if its put were still running

    store.put("seed", [tmp_path / "seed.csv"], message="again")
    assert not any(f.exists() for f in old)
    assert all(f.exists() for f in fresh)


@pytest.mark.slow
def test_gc_collects_leftovers_and_unreachable_entries_and_keeps_the_reachable(tmp_path, cli):
    from onepipe.config import load_settings
    from onepipe.data import open_store
    from onepipe.pipeline.execute import build_plan, run_pipeline
    from onepipe.pipeline.runners.inprocess import InProcessRunner

    root = copy_project(tmp_path / "proj")

    def settings(*extra: str):
        return load_settings(root / "onepipe.yaml", overrides=[*FAST, *extra], user="tester")

    store = open_store(settings())
    store.put("loans", [root / "data/loans/batch_1.csv"], message="batch 1")
    data_blobs = {p for p in (root / ".onepipe/data/objects").glob("??/*")}
    head = run_pipeline(settings())  # registered: version 1
    other = run_pipeline(settings("n_estimators=16"))  # registered: version 2
    assert (head.model_version, other.model_version) == ("1", "2")
    kept = {s.cache_key for s in head.steps} | {s.cache_key for s in other.steps}
    loose = run_pipeline(settings("n_estimators=17"), register=False)
    unreachable = {s.cache_key for s in loose.steps} - kept
    assert len(unreachable) == 2  # its train and evaluate entries; the rest are shared
    data_root = root / ".onepipe/data"
    temp_files, blob = kill_a_put(data_root, tmp_path / "put", "gc")
    entries = _entries(root)
    expected = {
        "temp files": sum(size_of(f) for f in temp_files),
        "unreferenced blobs": size_of(blob),
        "unreachable entries": sum(size_of(entries[k]) for k in unreachable),
    }
    fast = [a for p in FAST for a in ("-p", p)]

    recent = cli("gc", "--json", "--dry-run", *fast, cwd=root)  # kept: used within 7 days
    assert recent.code == 0, recent.err
    assert "unreachable entries" not in _kinds(json.loads(recent.out), "step cache")
    for key in unreachable:
        _age(entries[key], 8 * 24 * HOUR)

    dry = cli("gc", "--json", "--dry-run", *fast, cwd=root)
    assert dry.code == 0, dry.err
    report = json.loads(dry.out)
    data, cache = _kinds(report, "data store"), _kinds(report, "step cache")
    assert report["dry_run"] is True
    assert data["temp files"] == {"count": len(temp_files), "bytes": expected["temp files"]}
    assert data["unreferenced blobs"] == {"count": 1, "bytes": expected["unreferenced blobs"]}
    assert cache["unreachable entries"] == {"count": 2, "bytes": expected["unreachable entries"]}
    assert report["bytes"] == sum(expected.values())
    assert all(f.exists() for f in temp_files) and blob.exists()  # a dry run removes nothing
    assert set(_entries(root)) == set(entries)

    done = cli("gc", *fast, cwd=root)
    assert done.code == 0, done.err
    assert "step cache: 2 unreachable entries" in done.err and "freed" in done.err
    assert not any(f.exists() for f in temp_files) and not blob.exists()
    assert set(_entries(root)) == set(entries) - unreachable
    assert data_blobs <= set((root / ".onepipe/data/objects").glob("??/*"))
    assert LocalDataStore(data_root).verify() == []
    # The head, and the run behind version 2, are still fully cached.
    for extra in ((), ("n_estimators=16",)):
        plan, _ = build_plan(settings(*extra))
        assert InProcessRunner().fully_cached(plan)


PUTS = """
import os, sys
from onepipe.data.local import LocalDataStore
root, inputs, name, n = sys.argv[1:5]
store = LocalDataStore(root)
for i in range(int(n)):
    folder = os.path.join(inputs, f"{name}-{i}")
    commit = store.put("shared", [folder], message=f"{name}-{i}")
    print(commit.id, flush=True)
"""


def test_gc_never_breaks_a_concurrent_put(tmp_path):
    root = tmp_path / "store"
    store = LocalDataStore(root)
    writers, per_writer = 3, 12
    for w in range(writers):
        for i in range(per_writer):
            folder = tmp_path / "in" / f"w{w}-{i}"
            folder.mkdir(parents=True)
            for j in range(8):  # new content every put: each stages blobs nothing names yet
                (folder / f"part-{j}.bin").write_bytes(os.urandom(64 << 10))
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PUTS, str(root), str(tmp_path / "in"), f"w{w}", str(per_writer)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    sweeps = 0
    while any(p.poll() is None for p in procs):
        store.collect(wait_s=60)
        sweeps += 1
    outputs = [p.communicate(timeout=60)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert sweeps > 3  # gc ran again and again while the puts went on
    commits = [cid for out in outputs for cid in out]
    assert len(commits) == writers * per_writer
    store.collect()
    assert store.verify() == []
    for cid in commits:  # every acknowledged commit is whole, its blobs included
        for entry, data in LocalDataStore(root).iter_files(f"shared@{cid}"):
            assert len(data) == entry.size


def test_gc_removes_only_temp_files_from_a_store_it_cannot_read_whole(tmp_path):
    root = tmp_path / "store"
    store = LocalDataStore(root)
    (tmp_path / "a.csv").write_text("a\n1\n")
    commit = store.put("r", [tmp_path / "a.csv"])
    temp_files, blob = kill_a_put(root, tmp_path / "put", "damaged")
    (root / "commits" / f"{commit.id}.json").unlink()  # what is reachable is now unknown

    swept = store.collect()
    assert "cannot be read" in swept.skipped and "data verify" in swept.skipped
    assert swept.counts == {"temp files": len(temp_files)}
    assert not any(f.exists() for f in temp_files)
    assert blob.exists() and store.objects.path(commit.files[0].hash).exists()


def test_gc_is_refused_with_bad_numbers(tmp_path, cli):
    root = make_napping_project(tmp_path / "proj")
    result = cli("gc", "--keep-days", "-1", cwd=root)
    assert result.code == 2 and result.err.startswith("error: --keep-days -1")
