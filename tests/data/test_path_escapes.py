"""No name from a commit, a ref or a command line lands outside the directory it is meant for.

The hostile commits are written the way an attacker with write access to the store's
files would: a JSON record and a branch file by hand, ids computed with hashlib, no
onepipe code involved. The Pachyderm store gets the same rules through its stand-in
(a hostile or corrupted server answering with such paths).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

import pytest
from in_memory_pfs import InMemoryPachyderm
from typer.testing import CliRunner

from onepipe.cli.main import main
from onepipe.data import LocalDataStore
from onepipe.data.pachyderm.store import PachydermDataStore
from onepipe.errors import UsageError

PROJECT = "project: t\nmodel: {name: m}\n"
ESCAPE = "../../escaped.txt"  # from DIR = <project>/out/sub, this is <project>/escaped.txt


def run(*args: str | Path) -> tuple[int, str, str]:
    with CliRunner().isolation() as (stdout, stderr, _):
        code = main(["data", *map(str, args)])
        sys.stdout.flush()
        sys.stderr.flush()
        return code, stdout.getvalue().decode(), stderr.getvalue().decode()


def one_line_error(result: tuple[int, str, str], *fragments: str) -> str:
    code, out, err = result
    assert code == 2, result
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "internal error" not in lines[0] and "Traceback" not in out + err
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def write_commit_by_hand(
    store_root: Path, repo: str, branch: str, tree: dict[str, dict], parent: str | None = None
) -> str:
    """A commit record the store would accept as its own, plus a branch naming it."""
    record = {
        "repo": repo,
        "parent": parent,
        "message": "crafted",
        "time": "2024-01-01T00:00:00.000000+00:00",
        "provenance": [],
        "tree": tree,
    }
    hashed = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    cid = hashlib.sha256(hashed.encode()).hexdigest()
    record.update(id=cid, branch=branch)
    (store_root / "commits" / f"{cid}.json").write_text(json.dumps(record))
    (store_root / "repos" / repo / "branches" / branch).write_text(cid + "\n")
    return cid


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    (tmp_path / "onepipe.yaml").write_text(PROJECT)
    monkeypatch.chdir(tmp_path)
    for var in ("ONEPIPE_CONFIG", "ONEPIPE_ENV"):
        monkeypatch.delenv(var, raising=False)
    (tmp_path / "batch").mkdir()
    (tmp_path / "batch" / "a.csv").write_text("x\n1\n")
    assert run("put", "loans", "batch")[0] == 0
    return tmp_path


@pytest.fixture
def crafted(project: Path) -> str:
    """Branch loans@evil: a valid-looking commit holding a.csv and ESCAPE (same blob)."""
    root = project / ".onepipe" / "data"
    good = LocalDataStore(root).resolve("loans").files[0]
    meta = {"hash": good.hash, "size": good.size}
    return write_commit_by_hand(root, "loans", "evil", {"a.csv": meta, ESCAPE: meta})


def test_get_refuses_a_commit_path_that_climbs_out(project: Path, crafted: str):
    dest = project / "out" / "sub"
    one_line_error(run("get", "loans@evil", "-o", dest), ESCAPE)
    one_line_error(run("get", "loans@evil", ESCAPE, "-o", dest), ESCAPE)
    assert not (project / "escaped.txt").exists()
    assert not (project / "out" / "escaped.txt").exists()
    # The commit stays readable for what cannot escape: listing it, printing one file.
    assert run("ls", "loans@evil")[0] == 0
    assert run("get", "loans@evil", "a.csv")[1] == "x\n1\n"


def test_verify_reports_a_path_that_could_escape(project: Path, crafted: str):
    code, out, _ = run("verify")
    assert code == 1
    flagged = [line for line in out.splitlines() if ESCAPE in line]
    assert flagged and crafted[:12] in flagged[0], out


def test_put_refuses_to_carry_an_escaping_path_forward(project: Path, crafted: str):
    store = LocalDataStore(project / ".onepipe" / "data")
    one_line_error(run("put", "loans", "batch", "-b", "evil"), ESCAPE)
    assert store.branches("loans")["evil"] == crafted  # nothing was committed
    # Starting from an empty tree drops the bad path: allowed.
    assert run("put", "loans", "batch", "-b", "evil", "--replace")[0] == 0
    assert [f.path for f in store.resolve("loans@evil").files] == ["a.csv"]


def test_put_refuses_names_that_are_not_portable_paths(project: Path):
    hostile = project / "hostile"
    hostile.mkdir()
    (hostile / "..\\..\\win.csv").write_text("x\n")  # a legal Linux name; "../../" on Windows
    one_line_error(run("put", "loans", "hostile"), "win.csv")
    odd = project / "odd"
    odd.mkdir()
    (odd / "two\nlines.csv").write_text("x\n")
    one_line_error(run("put", "loans", "odd"), "lines.csv")
    assert len(LocalDataStore(project / ".onepipe" / "data").log("loans")) == 1


def test_get_with_an_absolute_path_stays_in_the_output_dir(project: Path, tmp_path: Path):
    victim = tmp_path / "victim" / "a.csv"
    nested = project / "nested"
    (nested / victim.parent.relative_to("/")).mkdir(parents=True)
    (nested / victim.relative_to("/")).write_text("overwritten\n")
    assert run("put", "loans", "nested", "-b", "abs")[0] == 0
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("mine\n")

    one_line_error(run("get", "loans@abs", str(victim), "-o", project / "out"), str(victim))
    assert victim.read_text() == "mine\n"


def test_refs_and_object_names_never_leave_the_store(project: Path):
    root = project / ".onepipe" / "data"
    # A branch file naming a path to a planted record instead of a commit id.
    good = LocalDataStore(root).resolve("loans")
    planted = json.loads((root / "commits" / f"{good.id}.json").read_text())
    (root / "planted.json").write_text(json.dumps(planted))
    (root / "repos" / "loans" / "branches" / "up").write_text("../planted\n")
    one_line_error(run("get", "loans@up", "a.csv"), "not a commit id")
    # An object "hash" that points at a directory outside objects/ (here: "/").
    write_commit_by_hand(root, "loans", "obj", {"a.csv": {"hash": "../../..", "size": 1}})
    one_line_error(run("get", "loans@obj", "a.csv"), "not a sha256")


def test_pachyderm_store_follows_the_same_rules(tmp_path: Path):
    client = InMemoryPachyderm()
    store = PachydermDataStore(client=client)
    (tmp_path / "a.csv").write_text("x\n")
    commit = store.put("loans", [tmp_path / "a.csv"])
    # A hostile or corrupted server answers with a path that climbs out.
    client.pfs.commits[commit.id].files["/" + ESCAPE] = b"x\n"

    dest = tmp_path / "out" / "sub"
    with pytest.raises(UsageError, match="escaped.txt"):
        store.export("loans", dest)
    assert not (tmp_path / "escaped.txt").exists()
    assert any(ESCAPE in p for p in store.verify())
    with pytest.raises(UsageError, match="escaped.txt"):
        store.put("loans", [tmp_path / "a.csv"])
    assert store.resolve("loans").id == commit.id
