"""What only ``PachydermDataStore`` does: its own commit ids, a failed put, opening by URI.
(What every data store does is the contract: tests/contracts/test_data_store_contract.py.)
"""

from __future__ import annotations

import socket

import pytest
from in_memory_pfs import InMemoryPachyderm

from onepipe.data import open_store_uri
from onepipe.data.pachyderm.store import PachydermDataStore
from onepipe.errors import ConfigError


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
