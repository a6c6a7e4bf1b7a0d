"""A put is atomic (a killed put leaves the old or the new head) and concurrent puts all land."""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from onepipe.data import LocalDataStore

PUT_SCRIPT = """
import sys
from onepipe.data.local import LocalDataStore
store = LocalDataStore(sys.argv[1])
sys.stdout.write("ready\\n"); sys.stdout.flush()
commit = store.put("batch", [sys.argv[2]], message=sys.argv[3])
sys.stdout.write(commit.id + "\\n"); sys.stdout.flush()
"""

CONCURRENT_SCRIPT = """
import os, sys, time
from onepipe.data.local import LocalDataStore
root, go, inputs, name, n = sys.argv[1:6]
store = LocalDataStore(root)
sys.stdout.write("ready\\n"); sys.stdout.flush()
while not os.path.exists(go):
    time.sleep(0.001)
for i in range(int(n)):
    store.put("shared", [os.path.join(inputs, f"{name}-{i}.csv")], message=f"{name}-{i}")
"""


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def make_batch(folder: Path, tag: str, n: int) -> dict[str, str]:
    """n files whose names repeat across batches and whose contents do not; name -> hash."""
    folder.mkdir(parents=True)
    expected = {}
    for j in range(n):
        data = f"{tag}:{j}:".encode() + os.urandom(2048)
        (folder / f"part-{j:04d}.bin").write_bytes(data)
        expected[f"part-{j:04d}.bin"] = sha(data)
    return expected


def start_put(root: Path, folder: Path, message: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", PUT_SCRIPT, str(root), str(folder), message],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
    return proc


def repo_commit_ids(root: Path, repo: str) -> set[str]:
    """Every commit record of ``repo`` on disk, whether or not a branch reaches it."""
    return {
        p.stem
        for p in (root / "commits").glob("*.json")
        if json.loads(p.read_bytes())["repo"] == repo
    }


def test_put_killed_at_random_points_leaves_old_or_new_head(tmp_path):
    root = tmp_path / "store"
    store = LocalDataStore(root)
    make_batch(tmp_path / "seed", "seed", 3)
    store.put("batch", [tmp_path / "seed"])
    n_files = 300

    # How long an undisturbed put of one batch takes, measured from the moment it starts.
    make_batch(tmp_path / "calibrate", "calibrate", n_files)
    started = time.perf_counter()
    proc = start_put(root, tmp_path / "calibrate", "calibrate")
    stdout, _ = proc.communicate(timeout=60)
    duration = time.perf_counter() - started
    assert proc.returncode == 0 and store.resolve("batch").id == stdout.strip()

    rng = random.Random(20240611)
    outcomes = []
    for i in range(8):
        old = store.branches("batch")["master"]
        old_tree = {f.path: f.hash for f in store.resolve(f"batch@{old}").files}
        expected = make_batch(tmp_path / f"b{i}", f"b{i}", n_files)
        proc = start_put(root, tmp_path / f"b{i}", f"batch {i}")
        time.sleep(duration * (i + rng.random()) / 8)
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=60)

        fresh = LocalDataStore(root)  # nothing cached from before the kill
        head = fresh.branches("batch")["master"]
        if head == old:
            outcomes.append("old")
        else:
            new = fresh.resolve(f"batch@{head}")
            assert new.parent == old and new.message == f"batch {i}"
            assert {f.path: f.hash for f in new.files} == {**old_tree, **expected}
            outcomes.append("new")
        assert fresh.verify() == [], f"kill {i} ({outcomes[-1]})"

    assert "old" in outcomes, outcomes  # at least one kill landed inside a put
    # The lock dies with its holder: the next put goes through at once.
    after = store.put("batch", [tmp_path / "seed"], message="after the kills")
    assert after.parent == store.log("batch")[1].id
    assert store.verify() == []


class Crash(BaseException):
    """Stands in for the process dying: not an Exception, so nothing may swallow it."""


def test_crash_before_each_durable_step_leaves_old_or_new_head(tmp_path, monkeypatch):
    files = {f"f{j}.csv": f"{j},{j * j}\n" for j in range(4)}
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    for name, text in files.items():
        (inputs / name).write_text(text)
    expected = {name: sha(text.encode()) for name, text in files.items()}

    real = {"replace": os.replace, "fsync": os.fsync}
    state = {"calls": 0, "crash_at": -1}

    def faulty(name):
        def op(*args, **kwargs):
            if state["calls"] == state["crash_at"]:
                raise Crash(f"crash before {name} #{state['calls']}")
            state["calls"] += 1
            return real[name](*args, **kwargs)

        return op

    def seeded(k: int) -> tuple[LocalDataStore, str]:
        store = LocalDataStore(tmp_path / f"store{k}")
        (tmp_path / f"seed{k}.csv").write_text("seed")
        return store, store.put("loans", [tmp_path / f"seed{k}.csv"]).id

    monkeypatch.setattr(os, "replace", faulty("replace"))
    monkeypatch.setattr(os, "fsync", faulty("fsync"))

    store, _ = seeded(-1)
    state["calls"] = 0
    store.put("loans", [inputs])
    total = state["calls"]
    assert total >= 3 * len(files)  # each blob: fsync + rename; then commit and branch writes

    outcomes = []
    for k in range(total):
        store, old = seeded(k)
        state.update(calls=0, crash_at=k)
        with pytest.raises(Crash):
            store.put("loans", [inputs], message="m")
        state["crash_at"] = -1
        fresh = LocalDataStore(store.root)
        head = fresh.resolve("loans")
        if head.id == old:
            outcomes.append("old")
        else:
            assert head.parent == old
            assert {f.path: f.hash for f in head.files} == {
                f"seed{k}.csv": sha(b"seed"),
                **expected,
            }
            outcomes.append("new")
        assert fresh.verify() == [], f"crash before step {k}"
        assert fresh.put("loans", [inputs], message="retry").parent == head.id

    assert outcomes.count("old") >= total - 2 and outcomes[-1] == "new", outcomes


def test_concurrent_puts_from_processes_all_land(tmp_path):
    root, inputs = tmp_path / "store", tmp_path / "inputs"
    inputs.mkdir()
    store = LocalDataStore(root)
    (inputs / "seed.csv").write_text("seed")
    store.put("shared", [inputs / "seed.csv"])
    writers, puts_each, rounds = 3, 4, 2

    expected_messages = set()
    for r in range(rounds):
        go = tmp_path / f"go{r}"
        procs = []
        for w in range(writers):
            name = f"r{r}w{w}"
            for i in range(puts_each):
                (inputs / f"{name}-{i}.csv").write_text(f"{name},{i}\n")
                expected_messages.add(f"{name}-{i}")
            cmd = [sys.executable, "-c", CONCURRENT_SCRIPT, str(root), str(go), str(inputs), name]
            proc = subprocess.Popen([*cmd, str(puts_each)], stdout=subprocess.PIPE, text=True)
            procs.append(proc)
        for proc in procs:
            assert proc.stdout is not None and proc.stdout.readline() == "ready\n"
        go.touch()  # all writers are waiting: release them together
        for proc in procs:
            proc.communicate(timeout=60)
            assert proc.returncode == 0

    log = store.log("shared")
    assert len(log) == 1 + writers * puts_each * rounds
    assert {c.message for c in log[:-1]} == expected_messages
    for newer, older in zip(log, log[1:], strict=False):
        assert newer.parent == older.id
    # No commit was written and then dropped by a racing branch update.
    assert repo_commit_ids(root, "shared") == {c.id for c in log}
    head_files = {f.path for f in log[0].files}
    assert head_files == {"seed.csv"} | {f"{m}.csv" for m in expected_messages}
    # Each writer's own puts keep their order.
    order = [c.message for c in reversed(log[:-1])]
    for m in expected_messages:
        name, i = m.rsplit("-", 1)
        if int(i):
            assert order.index(f"{name}-{int(i) - 1}") < order.index(m)
    assert store.verify() == []


def test_concurrent_puts_from_threads_all_land(tmp_path):
    store = LocalDataStore(tmp_path / "store")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    barrier = threading.Barrier(4)
    errors: list[BaseException] = []

    def writer(w: int) -> None:
        own = LocalDataStore(store.root)  # one store object per thread, as per process
        barrier.wait()
        try:
            for i in range(5):
                own.put("shared", [inputs / f"t{w}-{i}.csv"], message=f"t{w}-{i}")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    for w in range(4):
        for i in range(5):
            (inputs / f"t{w}-{i}.csv").write_text(f"{w},{i}\n")
    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    log = store.log("shared")
    assert len(log) == 20 and len({c.id for c in log}) == 20
    assert repo_commit_ids(store.root, "shared") == {c.id for c in log}
    assert len(log[0].files) == 20
