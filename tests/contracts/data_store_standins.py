"""How each ``DataStore`` backend is stood up for test_data_store_contract.py.

A stand-in is ``build(request, tmp_path) -> (store, names)``: an empty store, and
``names(repo)``, the repo name a test uses (unique per test when the store is shared).
"""

from __future__ import annotations

from pathlib import Path

from contract_registry import StandIn


class Names:
    """Repo names unique per test on a shared real cluster; plain names elsewhere."""

    def __init__(self, suffix: str) -> None:
        self.suffix = suffix

    def __call__(self, name: str) -> str:
        return f"{name}{self.suffix}"


def local(request, tmp_path: Path):
    from onepipe.data import LocalDataStore

    return LocalDataStore(tmp_path / "store"), Names("")


def pachyderm(request, tmp_path: Path):
    """``PachydermDataStore`` on an in-memory stand-in for the few pachyderm-sdk PFS calls it
    makes: the store's own code, no pachd (a real one: ``pachd`` in the suite)."""
    from in_memory_pfs import InMemoryPachyderm

    from onepipe.data.pachyderm.store import PachydermDataStore

    return PachydermDataStore(client=InMemoryPachyderm()), Names("")


STANDINS = {
    "local": StandIn(local),
    "pachyderm": StandIn(pachyderm),
}
