"""Fixtures for the data store tests: a fresh store (``write_files`` is in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from onepipe.data import LocalDataStore


@pytest.fixture
def store(tmp_path: Path) -> LocalDataStore:
    return LocalDataStore(tmp_path / "store")


@pytest.fixture
def count_objects() -> Callable[[Path], int]:
    def count(root: Path) -> int:
        return sum(1 for p in (root / "objects").rglob("*") if p.is_file())

    return count
