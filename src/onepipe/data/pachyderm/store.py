"""The cluster ``DataStore``: Pachyderm's PFS through ``pachyderm-sdk`` (its gRPC client).

The protocol is Pachyderm's own model, so the mapping is direct:

=================  =====================================================
store call         PFS calls
=================  =====================================================
create_repo        ``create_repo(update=True)``
list_repos         ``list_repo(projects=[project])``
put                ``start_commit`` + ``put_file_from_bytes`` (+ ``delete_file("/")``
                   for ``replace``) + ``finish_commit``, then ``inspect_commit``
resolve / log      ``list_branch`` (branch names), ``inspect_commit``
                   (a commit and its parent), ``list_commit`` (id prefixes)
branches           ``list_branch``
create_branch      ``create_branch(head=commit)``
read / iter_files  ``walk_file`` (the file list) and ``get_file`` (the bytes)
diff               two ``walk_file`` listings compared by Pachyderm's file hash
=================  =====================================================

Differences from the embedded store, on purpose and documented in docs/data.md:

* A commit id is Pachyderm's own id (32 hex characters, a global id of the
  commit set), not the hash of the commit's content; two puts of the same
  bytes make two commits with different ids. ``repo@<id prefix>`` refs work
  the same way.
* ``FileEntry.hash`` is Pachyderm's file hash (hex), not the sha256 of the
  bytes: equal content still has equal hashes within one cluster, which is all
  ``diff`` needs.
* Provenance that is not a Pachyderm pipeline's (``put(provenance=...)``) is kept
  as a trailer line of the commit description, so ``Commit.provenance`` reads it back.
* ``verify()`` has nothing to walk: Pachyderm checks its own object storage
  (``pachctl fsck``); it reports repos whose branch heads cannot be inspected.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import SplitResult, unquote

from onepipe.data.export import export_files
from onepipe.data.protocol import Commit, Diff, FileEntry
from onepipe.data.refs import (
    ambiguous_ref,
    check_file_path,
    check_name,
    check_put,
    commit_paths,
    is_commit_prefix,
    parse_ref,
    pin_provenance,
    unknown_ref,
    unsafe_file_path,
)
from onepipe.errors import ConfigError, NotFoundError, OnepipeError, UsageError, closest
from onepipe.extras import require
from onepipe.lifecycle.swept import Swept

PROVENANCE_TRAILER = "onepipe-provenance: "


def _pfs():
    from pachyderm_sdk.api import pfs  # lazy: optional extra 'pachyderm'

    return pfs


def _is_not_found(exc: BaseException) -> bool:
    code = getattr(exc, "code", None)
    if not callable(code):
        return False
    try:
        import grpc  # lazy: comes with the optional extra 'pachyderm'

        return code() == grpc.StatusCode.NOT_FOUND
    except Exception:  # pragma: no cover - a non-grpc error with a code() method
        return False


class PachydermDataStore:
    """Repos, branches and commits of one Pachyderm project (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        project: str = "default",
        default_branch: str = "master",
        descriptions: Mapping[str, str] | None = None,
        address: str = "",
    ) -> None:
        self.client = client
        self.project = project
        self.default_branch = check_name("branch", default_branch)
        self._descriptions = dict(descriptions or {})
        self.address = address

    @classmethod
    def connect(
        cls,
        host: str,
        port: int,
        project: str = "default",
        default_branch: str = "master",
        descriptions: Mapping[str, str] | None = None,
        timeout: float = 3.0,
    ) -> PachydermDataStore:
        """A store on pachd at host:port; ConfigError (one line) when nothing answers there."""
        require("pachyderm_sdk", extra="pachyderm", what="backends.data: pachyderm")
        try:  # gRPC would retry a dead address for a long time: fail fast and clearly instead
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError as exc:
            raise ConfigError(
                f"backends.data: pachyderm at {host}:{port} is unreachable ({exc.strerror or exc}); "
                "check data.pachyderm.host/port for this environment (or `pachctl port-forward`)"
            ) from None
        from pachyderm_sdk import Client  # lazy: optional extra 'pachyderm'

        return cls(
            Client(host=host, port=port), project, default_branch, descriptions, f"{host}:{port}"
        )

    uri_scheme = "pachyderm"
    uri_form = "pachyderm://host:port/project"

    @classmethod
    def uri_for(cls, settings: Any) -> str:
        """The URI a step in a pod opens this store with (``open_store_uri``)."""
        pach = settings.data.pachyderm
        return f"pachyderm://{pach.host}:{pach.port}/{pach.project}"

    @classmethod
    def from_uri(cls, uri: SplitResult, default_branch: str) -> PachydermDataStore:
        """The store ``uri_for`` named (the caller parsed it and its ``default_branch``)."""
        if not uri.hostname:
            raise UsageError(f"data store URI {uri.geturl()!r}: expected {cls.uri_form}")
        project = unquote(uri.path.strip("/")) or "default"
        return cls.connect(uri.hostname, uri.port or 30650, project, default_branch)

    @classmethod
    def from_settings(cls, settings: Any) -> PachydermDataStore:
        pach = settings.data.pachyderm
        return cls.connect(
            pach.host,
            pach.port,
            pach.project,
            settings.data.default_branch,
            {name: repo.description for name, repo in settings.data.repos.items()},
        )

    def __repr__(self) -> str:
        return f"PachydermDataStore({self.address or 'client'!r}, project={self.project!r})"

    # ---- PFS message helpers ------------------------------------------------
    def _repo(self, repo: str) -> Any:
        pfs = _pfs()
        return pfs.Repo(name=repo, type="user", project=pfs.Project(name=self.project))

    def _branch(self, repo: str, branch: str) -> Any:
        return _pfs().Branch(repo=self._repo(repo), name=branch)

    def _commit(self, repo: str, cid: str) -> Any:
        return _pfs().Commit(repo=self._repo(repo), id=cid)

    # ---- repos and branches ---------------------------------------------
    def create_repo(self, repo: str, description: str = "") -> None:
        check_name("repo", repo)
        self.client.pfs.create_repo(
            repo=self._repo(repo),
            description=description or self._descriptions.get(repo, ""),
            update=True,
        )

    def list_repos(self) -> list[str]:
        pfs = _pfs()
        infos = self.client.pfs.list_repo(projects=[pfs.Project(name=self.project)])
        return sorted(i.repo.name for i in infos if (i.repo.type or "user") == "user")

    def branches(self, repo: str) -> dict[str, str]:
        self._require_repo(repo)
        infos = self.client.pfs.list_branch(repo=self._repo(repo))
        return {i.branch.name: i.head.id for i in sorted(infos, key=lambda i: i.branch.name)}

    def create_branch(self, repo: str, branch: str, from_ref: str | None = None) -> None:
        check_name("branch", branch)
        heads = self.branches(repo)
        if from_ref is None and self.default_branch not in heads:
            raise UsageError(
                f"repo {repo!r} has no {self.default_branch!r} branch to start "
                f"{branch!r} from (pass --from REF, or put data to {repo}@{branch})"
            )
        head = self.resolve(from_ref or f"{repo}@{self.default_branch}")
        if head.repo != repo:
            raise UsageError(
                f"--from {from_ref}: a branch of {repo!r} must start at a commit of "
                f"{repo!r}, not of {head.repo!r}"
            )
        if branch in heads:
            raise UsageError(
                f"branch {repo}@{branch} already exists (head {heads[branch][:12]}); pick another name"
            )
        self.client.pfs.create_branch(
            head=self._commit(repo, head.id), branch=self._branch(repo, branch)
        )

    # ---- writing ----------------------------------------------------------
    def put(
        self,
        repo: str,
        paths: Sequence[Path | str] | Path | str,
        *,
        branch: str | None = None,
        message: str = "",
        provenance: Sequence[str] = (),
        replace: bool = False,
    ) -> Commit:
        """One PFS commit holding the files; finished only after every file is written."""
        branch = check_put(repo, branch, message, self.default_branch)
        sources = commit_paths(paths)
        prov = pin_provenance(self.resolve, provenance)
        if repo not in self.list_repos():
            self.create_repo(repo)
        elif not replace:
            # PFS carries the head's files into the new commit: refuse one that could escape.
            head = self.branches(repo).get(branch)
            for entry in self._load(repo, head).files if head else ():
                check_file_path(entry.path, f"{repo}@{branch}")
        description = message
        if prov:
            description = f"{message}\n\n{PROVENANCE_TRAILER}{' '.join(prov)}"
        pfs = self.client.pfs
        commit = pfs.start_commit(branch=self._branch(repo, branch), description=description)
        try:
            if replace:
                pfs.delete_file(commit=commit, path="/")
            for dest, src in sources:
                pfs.put_file_from_bytes(commit=commit, path="/" + dest, data=src.read_bytes())
        except BaseException as exc:
            # An open commit with an error set is finished as failed: the branch never shows it.
            pfs.finish_commit(commit=commit, error=f"onepipe put failed: {exc}"[:500], force=True)
            raise
        pfs.finish_commit(commit=commit)
        return self._load(repo, commit.id)

    # ---- reading ----------------------------------------------------------
    def resolve(self, ref: str) -> Commit:
        repo, part = parse_ref(ref)
        heads = self.branches(repo)
        name = part or self.default_branch
        if name in heads and heads[name]:
            return self._load(repo, heads[name])
        if part is not None and is_commit_prefix(part):
            prefix = part.lower()
            matches = sorted(
                {
                    i.commit.id
                    for i in self.client.pfs.list_commit(repo=self._repo(repo), all=True)
                    if i.commit.id.lower().startswith(prefix)
                }
            )
            if len(matches) == 1:
                return self._load(repo, matches[0])
            if matches:
                raise ambiguous_ref(ref, repo, part, [m[:12] for m in matches])
        raise unknown_ref(ref, repo, part, name, heads)

    def log(self, ref: str, limit: int | None = None) -> list[Commit]:
        if limit is not None and limit < 1:
            raise UsageError(f"--limit must be at least 1, got {limit}")
        commits: list[Commit] = []
        current: Commit | None = self.resolve(ref)
        while current is not None and (limit is None or len(commits) < limit):
            commits.append(current)
            current = self._load(current.repo, current.parent) if current.parent else None
        return commits

    def read_bytes(self, ref: str, path: str) -> bytes:
        commit = self.resolve(ref)
        key = PurePosixPath(path.replace("\\", "/")).as_posix().lstrip("/")
        if key not in {f.path for f in commit.files}:
            raise NotFoundError(
                f"no file {path!r} in {commit.repo}@{commit.short}"
                f"{closest(key, [f.path for f in commit.files])}"
            )
        return self._get(commit, key)

    def iter_files(self, ref: str) -> Iterator[tuple[FileEntry, bytes]]:
        commit = self.resolve(ref)
        for entry in commit.files:
            yield entry, self._get(commit, entry.path)

    def export(self, ref: str, dest: Path | str) -> list[Path]:
        return export_files(self, ref, dest)

    def diff(self, a: str, b: str) -> Diff:
        old = {f.path: f.hash for f in self.resolve(a).files}
        new = {f.path: f.hash for f in self.resolve(b).files}
        return Diff(
            added=tuple(sorted(new.keys() - old.keys())),
            removed=tuple(sorted(old.keys() - new.keys())),
            modified=tuple(sorted(p for p in old.keys() & new.keys() if old[p] != new[p])),
        )

    def verify(self) -> list[str]:
        """Branch heads that cannot be inspected, and file paths that could escape an export
        directory; Pachyderm checks its own storage (pachctl fsck)."""
        problems: list[str] = []
        for repo in self.list_repos():
            for branch, head in self.branches(repo).items():
                try:
                    commit = self._load(repo, head)
                except OnepipeError as exc:
                    problems.append(f"{repo}@{branch}: {exc}")
                    continue
                for entry in commit.files:
                    unsafe = unsafe_file_path(entry.path)
                    if unsafe:
                        problems.append(
                            f"{repo}@{commit.short}: file path {entry.path!r} {unsafe} (it could "
                            "land outside the directory it is exported to)"
                        )
        return problems

    def collect(self, *, dry_run: bool = False, wait_s: float = 30.0):
        """Nothing to collect from here: Pachyderm's own garbage collection owns its storage."""
        return Swept("data store", dry_run).skip("Pachyderm collects its own storage")

    # ---- internals ----------------------------------------------------------
    def _require_repo(self, repo: str) -> None:
        check_name("repo", repo)
        repos = self.list_repos()
        if repo not in repos:
            hint = (
                closest(repo, repos)
                or " (the store has no repos yet; `onepipe data put` creates one)"
            )
            raise NotFoundError(f"unknown repo {repo!r}{hint}")

    def _get(self, commit: Commit, path: str) -> bytes:
        file = _pfs().File(commit=self._commit(commit.repo, commit.id), path="/" + path)
        return b"".join(chunk.value for chunk in self.client.pfs.get_file(file=file))

    def _load(self, repo: str, cid: str) -> Commit:
        pfs = _pfs()
        try:
            info = self.client.pfs.inspect_commit(
                commit=self._commit(repo, cid), wait=pfs.CommitState.FINISHED
            )
            listing = self.client.pfs.walk_file(
                file=pfs.File(commit=self._commit(repo, cid), path="/")
            )
            files = sorted(
                (
                    FileEntry(f.file.path.lstrip("/"), bytes(f.hash).hex(), int(f.size_bytes))
                    for f in listing
                    if f.file_type == pfs.FileType.FILE
                ),
                key=lambda e: e.path,
            )
        except Exception as exc:
            if _is_not_found(exc):
                raise OnepipeError(
                    f"commit {cid[:12]} of {repo!r} is missing from pachyderm"
                ) from None
            raise
        message, prov = _split_description(info.description or "")
        parent = info.parent_commit.id if info.parent_commit and info.parent_commit.id else None
        started = info.started
        when = started.astimezone(UTC).isoformat(timespec="microseconds") if started else ""
        return Commit(
            repo,
            info.commit.id,
            parent,
            info.commit.branch.name if info.commit.branch else None,
            message,
            when,
            prov,
            tuple(files),
        )


def _split_description(description: str) -> tuple[str, tuple[str, ...]]:
    body, sep, tail = description.rpartition("\n\n" + PROVENANCE_TRAILER)
    if not sep:
        if description.startswith(PROVENANCE_TRAILER):
            return "", tuple(description[len(PROVENANCE_TRAILER) :].split())
        return description, ()
    return body, tuple(tail.split())
