"""The ``DataStore`` protocol: Pachyderm's data model, whatever the backend.

A store holds repos; a repo holds branches; a branch points at an immutable
commit. A commit's id is the hash of its content (tree, parent, message, time,
provenance), so the same id always means the same bytes. Provenance names the
input commits a derived commit was computed from (``repo@commit``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, cast, runtime_checkable
from urllib.parse import SplitResult

from onepipe import plugins


@dataclass(frozen=True)
class FileEntry:
    path: str  # posix path inside the commit, e.g. "batch_1.csv"
    hash: str  # sha256 hex of the content
    size: int


@dataclass(frozen=True)
class Commit:
    repo: str
    id: str  # full content hash (hex)
    parent: str | None
    branch: str | None  # the branch it was made on
    message: str
    time: str  # ISO-8601 UTC
    provenance: tuple[str, ...] = ()  # "repo@commitid" of input commits
    files: tuple[FileEntry, ...] = field(default=(), compare=False)

    @property
    def ref(self) -> str:
        """The immutable ref naming exactly this commit."""
        return f"{self.repo}@{self.id}"

    @property
    def short(self) -> str:
        return self.id[:12]


@dataclass(frozen=True)
class Diff:
    added: tuple[str, ...]
    removed: tuple[str, ...]
    modified: tuple[str, ...]


@runtime_checkable
class DataStore(Protocol):
    """Versioned, content-addressed data. Refs are ``repo``, ``repo@branch`` or ``repo@<commit prefix>``."""

    @classmethod
    def from_settings(cls, settings) -> DataStore:
        """The store these settings name (hosts, paths and descriptions come from them)."""
        ...

    uri_scheme: str  # the scheme of the URIs ``uri_for`` makes ("file", "pachyderm")
    uri_form: str  # their shape, for errors ("file:///absolute/path")

    @classmethod
    def uri_for(cls, settings) -> str:
        """The URI a pipeline step (maybe in another process or pod) opens this store with."""
        ...

    @classmethod
    def from_uri(cls, uri: SplitResult, default_branch: str) -> DataStore:
        """The store ``uri_for`` named (``open_store_uri`` parsed it and its default branch)."""
        ...

    def create_repo(self, repo: str, description: str = "") -> None: ...

    def list_repos(self) -> list[str]: ...

    def put(
        self,
        repo: str,
        paths: Sequence[Path],
        *,
        branch: str | None = None,
        message: str = "",
        provenance: Sequence[str] = (),
        replace: bool = False,
    ) -> Commit:
        """Commit files (dirs are added recursively) on top of the branch head, atomically."""
        ...

    def resolve(self, ref: str) -> Commit:
        """The commit a ref names; NotFoundError naming the closest refs otherwise."""
        ...

    def log(self, ref: str, limit: int | None = None) -> list[Commit]: ...

    def branches(self, repo: str) -> dict[str, str]:
        """Branch name -> head commit id."""
        ...

    def create_branch(self, repo: str, branch: str, from_ref: str | None = None) -> None: ...

    def read_bytes(self, ref: str, path: str) -> bytes: ...

    def iter_files(self, ref: str) -> Iterator[tuple[FileEntry, bytes]]: ...

    def export(self, ref: str, dest: Path) -> list[Path]:
        """Write the commit's files under ``dest``; returns the written paths."""
        ...

    def diff(self, a: str, b: str) -> Diff: ...

    def verify(self) -> list[str]:
        """Problems found (missing or corrupt objects, dangling refs); empty when healthy."""
        ...

    def collect(self, *, dry_run: bool = False, wait_s: float = 30.0):
        """Remove what killed writers left and what nothing reachable names (``onepipe gc``);
        returns a ``lifecycle.swept.Swept`` saying what and how many bytes (dry run: would)."""
        ...


def load_data_store(name: str) -> type[DataStore]:
    """The store registered as ``name`` (``backends.data``); ConfigError naming the choices."""
    return cast("type[DataStore]", plugins.load_backend("data", name))
