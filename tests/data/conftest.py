"""Fixtures for the data store tests: a fresh store and a helper that writes input files."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from onepipe.data import LocalDataStore

WriteFiles = Callable[..., Path]


@pytest.fixture
def store(tmp_path: Path) -> LocalDataStore:
    return LocalDataStore(tmp_path / "store")


@pytest.fixture
def write_files(tmp_path: Path) -> WriteFiles:
    """``write_files("batch1", {"a.csv": "x\\n1\\n"})`` -> the directory holding those files."""
    counter = iter(range(10_000))

    def write(name: str | None = None, files: dict[str, str | bytes] | None = None) -> Path:
        folder = tmp_path / "input" / (name or f"dir{next(counter)}")
        for rel, content in (files or {}).items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            target.write_bytes(data)
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    return write


@pytest.fixture
def count_objects() -> Callable[[Path], int]:
    def count(root: Path) -> int:
        return sum(1 for p in (root / "objects").rglob("*") if p.is_file())

    return count
