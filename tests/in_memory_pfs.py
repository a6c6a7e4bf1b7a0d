"""An in-memory stand-in for the few ``pachyderm-sdk`` PFS calls ``PachydermDataStore`` makes.

Used by the tests when no Pachyderm endpoint is configured. It implements exactly
the calls the store uses, with the SDK's keyword signatures, and answers with the
SDK's own message classes (``CommitInfo``, ``FileInfo``, ``BranchInfo``, ...), so
the store's translation code is the code that runs against a real pachd. Not
modelled: pipelines, commit sets across repos, auth, transactions, and whatever
pachd does beyond these calls (e.g. the exact error texts). Missing things raise
a ``grpc.RpcError`` with ``StatusCode.NOT_FOUND``, as pachd does.
"""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import grpc


class PfsError(grpc.RpcError):
    def __init__(self, status: grpc.StatusCode, details: str) -> None:
        super().__init__(details)
        self._status, self._details = status, details

    def code(self) -> grpc.StatusCode:
        return self._status

    def details(self) -> str:
        return self._details


def _missing(what: str) -> PfsError:
    return PfsError(grpc.StatusCode.NOT_FOUND, f"{what} not found")


@dataclass
class _Commit:
    id: str
    repo: str
    branch: str
    parent: str | None
    description: str
    started: datetime
    files: dict[str, bytes] = field(default_factory=dict)
    finished: bool = False
    error: str = ""


@dataclass
class _Repo:
    description: str
    created: datetime
    branches: dict[str, str] = field(default_factory=dict)  # name -> head commit id


class InMemoryPfs:
    """``client.pfs`` for one process: repos, branches, commits and files in dicts."""

    def __init__(self) -> None:
        self.repos: dict[tuple[str, str], _Repo] = {}  # (project, name)
        self.commits: dict[str, _Commit] = {}
        self.calls: list[str] = []  # the names of the calls made, for tests

    # -- helpers --
    @staticmethod
    def _key(repo: Any) -> tuple[str, str]:
        project = repo.project.name if repo.project and repo.project.name else "default"
        return project, repo.name

    def _repo(self, repo: Any) -> _Repo:
        found = self.repos.get(self._key(repo))
        if found is None:
            raise _missing(f"repo {repo.name}")
        return found

    def _find(self, commit: Any) -> _Commit:
        self._repo(commit.repo)
        cid = commit.id
        if not cid and commit.branch and commit.branch.name:
            cid = self._repo(commit.repo).branches.get(commit.branch.name, "")
        found = self.commits.get(cid)
        if found is None or found.repo != commit.repo.name:
            raise _missing(f"commit {commit.repo.name}@{cid}")
        return found

    def _msg(self, c: _Commit) -> Any:
        from pachyderm_sdk.api import pfs

        repo = pfs.Repo(name=c.repo, type="user", project=pfs.Project(name="default"))
        return pfs.Commit(repo=repo, id=c.id, branch=pfs.Branch(repo=repo, name=c.branch))

    # -- repos --
    def create_repo(self, *, repo: Any = None, description: str = "", update: bool = False) -> Any:
        self.calls.append("create_repo")
        key = self._key(repo)
        if key in self.repos:
            if not update:
                raise PfsError(grpc.StatusCode.ALREADY_EXISTS, f"repo {repo.name} already exists")
            if description:
                self.repos[key].description = description
        else:
            self.repos[key] = _Repo(description, datetime.now(UTC))
        return None

    def inspect_repo(self, *, repo: Any = None) -> Any:
        from pachyderm_sdk.api import pfs

        self.calls.append("inspect_repo")
        r = self._repo(repo)
        return pfs.RepoInfo(repo=repo, created=r.created, description=r.description)

    def list_repo(self, *, type: str = "", projects: list[Any] | None = None, page: Any = None):
        from pachyderm_sdk.api import pfs

        self.calls.append("list_repo")
        wanted = {p.name for p in projects or []}
        for (project, name), r in sorted(self.repos.items()):
            if not wanted or project in wanted:
                repo = pfs.Repo(name=name, type="user", project=pfs.Project(name=project))
                yield pfs.RepoInfo(repo=repo, created=r.created, description=r.description)

    # -- branches --
    def list_branch(self, *, repo: Any = None, reverse: bool = False) -> Iterator[Any]:
        from pachyderm_sdk.api import pfs

        self.calls.append("list_branch")
        for name, head in sorted(self._repo(repo).branches.items(), reverse=reverse):
            yield pfs.BranchInfo(
                branch=pfs.Branch(repo=repo, name=name), head=pfs.Commit(repo=repo, id=head)
            )

    def create_branch(self, *, head: Any = None, branch: Any = None, **_: Any) -> Any:
        self.calls.append("create_branch")
        target = self._find(head)
        self._repo(branch.repo).branches[branch.name] = target.id
        return None

    # -- commits --
    def start_commit(self, *, parent: Any = None, description: str = "", branch: Any = None):
        self.calls.append("start_commit")
        r = self._repo(branch.repo)
        head = r.branches.get(branch.name)
        files = dict(self.commits[head].files) if head else {}
        c = _Commit(
            uuid.uuid4().hex, branch.repo.name, branch.name, head, description,
            datetime.now(UTC), files,
        )  # fmt: skip
        self.commits[c.id] = c
        return self._msg(c)

    def finish_commit(
        self, *, commit: Any = None, description: str = "", error: str = "", force: bool = False
    ) -> Any:
        self.calls.append("finish_commit")
        c = self._find(commit)
        c.finished, c.error = True, error
        if description:
            c.description = description
        if not error:  # the branch moves to a commit only once it is finished without error
            self._repo(commit.repo).branches[c.branch] = c.id
        return None

    def inspect_commit(self, *, commit: Any = None, wait: Any = None) -> Any:
        from pachyderm_sdk.api import pfs

        self.calls.append("inspect_commit")
        c = self._find(commit)
        parent = self._msg(self.commits[c.parent]) if c.parent else None
        return pfs.CommitInfo(
            commit=self._msg(c),
            origin=pfs.CommitOrigin(kind=pfs.OriginKind.USER),
            description=c.description,
            parent_commit=parent,
            started=c.started,
            finished=c.started if c.finished else None,
            error=c.error,
            size_bytes_upper_bound=sum(len(b) for b in c.files.values()),
        )

    def list_commit(self, *, repo: Any = None, number: int = 0, all: bool = False, **_: Any):
        self.calls.append("list_commit")
        self._repo(repo)
        ours = [c for c in self.commits.values() if c.repo == repo.name and c.finished]
        for c in sorted(ours, key=lambda c: c.started, reverse=True)[: number or None]:
            yield self.inspect_commit(commit=self._msg(c))

    # -- files --
    def put_file_from_bytes(
        self, *, commit: Any, path: str, data: bytes, append: bool = False
    ) -> Any:
        self.calls.append("put_file_from_bytes")
        c = self._find(commit)
        if c.finished:
            raise PfsError(grpc.StatusCode.FAILED_PRECONDITION, f"commit {c.id} is finished")
        key = "/" + path.lstrip("/")
        c.files[key] = (c.files.get(key, b"") if append else b"") + bytes(data)
        return None

    def delete_file(self, *, commit: Any, path: str) -> Any:
        self.calls.append("delete_file")
        c = self._find(commit)
        prefix = "/" + path.strip("/")
        for key in list(c.files):
            if prefix == "/" or key == prefix or key.startswith(prefix + "/"):
                del c.files[key]
        return None

    def walk_file(self, *, file: Any = None, **_: Any) -> Iterator[Any]:
        from pachyderm_sdk.api import pfs

        self.calls.append("walk_file")
        c = self._find(file.commit)
        root = "/" + file.path.strip("/")
        for key, data in sorted(c.files.items()):
            if root == "/" or key == root or key.startswith(root + "/"):
                yield pfs.FileInfo(
                    file=pfs.File(commit=file.commit, path=key),
                    file_type=pfs.FileType.FILE,
                    committed=c.started,
                    size_bytes=len(data),
                    hash=hashlib.sha256(data).digest(),
                )

    def get_file(self, *, file: Any = None, url: str = "", offset: int = 0, **_: Any):
        from betterproto.lib.google.protobuf import BytesValue

        self.calls.append("get_file")
        c = self._find(file.commit)
        key = "/" + file.path.lstrip("/")
        if key not in c.files:
            raise _missing(f"file {key}")
        stream = io.BytesIO(c.files[key][offset:])
        while chunk := stream.read(64 * 1024):
            yield BytesValue(value=chunk)


class InMemoryPachyderm:
    """What ``PachydermDataStore(client=...)`` needs of ``pachyderm_sdk.Client``: ``.pfs``."""

    def __init__(self) -> None:
        self.pfs = InMemoryPfs()
