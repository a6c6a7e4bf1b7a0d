"""The embedded ``DataStore``: a content-addressed directory with Pachyderm's model.

Layout under ``root``::

    objects/ab/cdef...        file contents, named by their sha256 (written once, never changed)
    commits/<id>.json         immutable commit records; <id> is the hash of the record
    repos/<repo>/repo.json    repo metadata
    repos/<repo>/branches/<b> the head commit id of branch <b>
    repos/<repo>/.lock        serialises ref updates of one repo
    tmp/                      blobs being written
    gc.lock                   held shared by writers, exclusively by `onepipe gc` (data/gc.py)

Every file is written to a temporary name, fsynced and renamed into place, and a
branch file is replaced only after everything it points at is durable. A process
killed at any instant therefore leaves the branch at its old or its new commit,
and at worst some unreferenced temporary files or objects behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import SplitResult, unquote

from onepipe.data.export import export_files
from onepipe.data.gc import STALE_TEMP_S, collect_store, remove_temp_files, writes_store
from onepipe.data.objects import ObjectStore, atomic_write
from onepipe.data.protocol import Commit, Diff, FileEntry
from onepipe.data.refs import (
    ambiguous_ref,
    canonical,
    check_file_path,
    check_name,
    check_put,
    commit_id,
    commit_paths,
    is_commit_prefix,
    is_sha256,
    parse_ref,
    pin_provenance,
    unknown_ref,
    unsafe_file_path,
)
from onepipe.errors import NotFoundError, OnepipeError, UsageError, closest

# A temporary file younger than this may belong to a put still running in another process.
_TMP_GRACE_SECONDS = 600
Tree = dict[str, tuple[str, int]]


class LocalDataStore:
    """Repos, branches and immutable commits in a local directory (see the module docstring)."""

    def __init__(
        self,
        root: Path | str,
        default_branch: str = "master",
        descriptions: Mapping[str, str] | None = None,
    ) -> None:
        self.root = Path(root)
        self.default_branch = check_name("branch", default_branch)
        self._descriptions = dict(descriptions or {})
        self.objects = ObjectStore(self.root)
        self._cache: dict[str, Commit] = {}

    uri_scheme = "file"
    uri_form = "file:///absolute/path"

    @classmethod
    def uri_for(cls, settings: Any) -> str:
        """The URI a step in another process opens this store with (``open_store_uri``)."""
        return settings.data_root.as_uri()

    @classmethod
    def from_uri(cls, uri: SplitResult, default_branch: str) -> LocalDataStore:
        """The store ``uri_for`` named (the caller parsed it and its ``default_branch``)."""
        if uri.netloc not in ("", "localhost") or not uri.path:
            raise UsageError(f"data store URI {uri.geturl()!r}: expected {cls.uri_form}")
        return cls(unquote(uri.path), default_branch=default_branch)

    @classmethod
    def from_settings(cls, settings: Any) -> LocalDataStore:
        return cls(
            settings.data_root,
            settings.data.default_branch,
            {name: repo.description for name, repo in settings.data.repos.items()},
        )

    def __repr__(self) -> str:
        return f"LocalDataStore({str(self.root)!r})"

    # ---- repos and branches ---------------------------------------------
    @writes_store
    def create_repo(self, repo: str, description: str = "") -> None:
        """Create ``repo``; on an existing repo a non-empty description replaces the old one."""
        check_name("repo", repo)
        with self._lock(repo):
            self._ensure_repo(repo, description)

    def list_repos(self) -> list[str]:
        top = self.root / "repos"
        if not top.is_dir():
            return []
        return sorted(d.name for d in top.iterdir() if (d / "repo.json").is_file())

    def branches(self, repo: str) -> dict[str, str]:
        self._require_repo(repo)
        folder = self._repo_dir(repo) / "branches"
        if not folder.is_dir():
            return {}
        heads = {}
        for f in sorted(folder.iterdir()):
            if not f.name.startswith("."):
                heads[f.name] = f.read_text().strip()
        return heads

    @writes_store
    def create_branch(self, repo: str, branch: str, from_ref: str | None = None) -> None:
        check_name("branch", branch)
        self._require_repo(repo)
        source = from_ref or f"{repo}@{self.default_branch}"
        if from_ref is None and self.default_branch not in self.branches(repo):
            raise UsageError(
                f"repo {repo!r} has no {self.default_branch!r} branch to start "
                f"{branch!r} from (pass --from REF, or put data to {repo}@{branch})"
            )
        head = self.resolve(source)
        if head.repo != repo:
            raise UsageError(
                f"--from {source}: a branch of {repo!r} must start at a commit of "
                f"{repo!r}, not of {head.repo!r}"
            )
        with self._lock(repo):
            target = self._repo_dir(repo) / "branches" / branch
            if target.exists():
                raise UsageError(
                    f"branch {repo}@{branch} already exists (head "
                    f"{target.read_text().strip()[:12]}); pick another name"
                )
            atomic_write(target, (head.id + "\n").encode())

    # ---- writing ----------------------------------------------------------
    @writes_store
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
        """Commit files on top of the branch head; dirs are added recursively, relative to themselves."""
        branch = check_put(repo, branch, message, self.default_branch)
        sources = commit_paths(paths, self.root)
        remove_temp_files(self.root, older_than=STALE_TEMP_S)  # what killed puts left
        prov = pin_provenance(self.resolve, provenance)

        # Blobs go in before the lock: they are idempotent and invisible until a commit names them.
        staged: Tree = {dest: self.objects.add(src) for dest, src in sources}
        self.objects.sync(h for h, _ in staged.values())

        with self._lock(repo):
            self._ensure_repo(repo)
            branch_file = self._repo_dir(repo) / "branches" / branch
            parent = branch_file.read_text().strip() if branch_file.is_file() else None
            tree: Tree = {} if replace or parent is None else self._tree(parent)
            tree.update(staged)
            for path in tree:  # a path the parent holds is carried forward: check it as well
                check_file_path(path, f"{repo}@{branch}")
            record = {
                "repo": repo,
                "parent": parent,
                "message": message,
                "time": _now(),
                "provenance": list(prov),
                "branch": branch,
                "tree": {p: {"hash": h, "size": n} for p, (h, n) in sorted(tree.items())},
            }
            record["id"] = cid = commit_id(record)
            commit_file = self._commit_path(cid)
            if not commit_file.exists():
                commit_file.parent.mkdir(parents=True, exist_ok=True)
                atomic_write(commit_file, canonical(record))
            # The commit is durable; only now may the branch name it.
            atomic_write(branch_file, (cid + "\n").encode())
        return self._load(cid)

    # ---- reading ----------------------------------------------------------
    def resolve(self, ref: str) -> Commit:
        repo, part = parse_ref(ref)
        heads = self.branches(repo)
        name = part or self.default_branch
        if name in heads:
            return self._load(heads[name])
        if part is not None and is_commit_prefix(part):
            matches = [c for c in self._commits_with_prefix(part.lower()) if c.repo == repo]
            if len(matches) == 1:
                return matches[0]
            if matches:
                raise ambiguous_ref(ref, repo, part, [c.short for c in matches])
        raise unknown_ref(ref, repo, part, name, heads)

    def log(self, ref: str, limit: int | None = None) -> list[Commit]:
        if limit is not None and limit < 1:
            raise UsageError(f"--limit must be at least 1, got {limit}")
        commits: list[Commit] = []
        current: Commit | None = self.resolve(ref)
        while current is not None and (limit is None or len(commits) < limit):
            commits.append(current)
            current = self._load(current.parent) if current.parent else None
        return commits

    def read_bytes(self, ref: str, path: str) -> bytes:
        commit = self.resolve(ref)
        key = PurePosixPath(path.replace("\\", "/")).as_posix().lstrip("/")
        for entry in commit.files:
            if entry.path == key:
                return self.objects.read(entry.hash, repr(entry.path))
        raise NotFoundError(
            f"no file {path!r} in {commit.repo}@{commit.short}"
            f"{closest(key, [f.path for f in commit.files])}"
        )

    def iter_files(self, ref: str) -> Iterator[tuple[FileEntry, bytes]]:
        for entry in self.resolve(ref).files:
            yield entry, self.objects.read(entry.hash, repr(entry.path))

    def export(self, ref: str, dest: Path | str) -> list[Path]:
        return export_files(self, ref, dest)

    def diff(self, a: str, b: str) -> Diff:
        old, new = self._tree(self.resolve(a).id), self._tree(self.resolve(b).id)
        return Diff(
            added=tuple(sorted(new.keys() - old.keys())),
            removed=tuple(sorted(old.keys() - new.keys())),
            modified=tuple(sorted(p for p in old.keys() & new.keys() if old[p][0] != new[p][0])),
        )

    # ---- checking -----------------------------------------------------------
    def verify(self) -> list[str]:
        """Check every branch head and every commit and blob reachable from one."""
        self._clean_tmp()
        problems: list[str] = []
        seen: set[str] = set()
        blobs: dict[str, str | None] = {}
        top = self.root / "repos"
        for repo_dir in sorted(top.iterdir()) if top.is_dir() else []:
            repo = repo_dir.name
            if not (repo_dir / "repo.json").is_file():
                if (repo_dir / "branches").is_dir():
                    problems.append(f"repos/{repo}: has branches but no repo.json")
                continue
            for branch_file in sorted((repo_dir / "branches").glob("[!.]*")):
                head = branch_file.read_text().strip()
                where = f"{repo}@{branch_file.name}"
                if not is_sha256(head):
                    problems.append(f"{where}: head {head!r} is not a commit id")
                cid = head if is_sha256(head) else None
                while cid and cid not in seen:
                    seen.add(cid)
                    cid = self._check_commit(cid, repo, where, blobs, problems)
        return problems

    def _check_commit(
        self, cid: str, repo: str, where: str, blobs: dict[str, str | None], problems: list[str]
    ) -> str | None:
        """Append the problems of one commit; return its parent id to continue the walk."""
        path = self._commit_path(cid)
        try:
            record = json.loads(path.read_bytes())
            actual = commit_id(record)
        except FileNotFoundError:
            problems.append(f"{where}: commit {cid[:12]} is missing (commits/{cid}.json)")
            return None
        except (ValueError, KeyError, TypeError) as exc:
            problems.append(f"commits/{cid}.json: not a valid commit record ({exc})")
            return None
        if actual != cid or record.get("id") != cid:
            problems.append(
                f"commits/{cid}.json: content hashes to {actual[:12]} (the file was altered)"
            )
        if record["repo"] != repo:
            problems.append(f"{where}: commit {cid[:12]} belongs to repo {record['repo']!r}")
        for file_path, meta in sorted(record["tree"].items()):
            unsafe = unsafe_file_path(file_path)
            if unsafe:
                problems.append(
                    f"{repo}@{cid[:12]}: file path {file_path!r} {unsafe} (it could land "
                    "outside the directory it is exported to)"
                )
            digest = meta.get("hash", "")
            if digest not in blobs:
                blobs[digest] = self.objects.check(digest, meta.get("size"))
            if blobs[digest]:
                problems.append(f"{repo}@{cid[:12]}:{file_path}: {blobs[digest]}")
        parent = record.get("parent")
        if parent is not None and not is_sha256(parent):
            problems.append(f"commits/{cid}.json: parent {parent!r} is not a commit id")
            return None
        return parent

    def collect(self, *, dry_run: bool = False, wait_s: float = 30.0):
        """Remove what killed puts left and what no branch reaches (``onepipe gc``)."""
        return collect_store(self, dry_run=dry_run, wait_s=wait_s)

    def _clean_tmp(self) -> None:
        """Remove temporary files a killed put left behind, sparing those of puts still running."""
        cutoff = time.time() - _TMP_GRACE_SECONDS
        for pattern in (
            "tmp/.tmp-*",
            "commits/.tmp-*",
            "repos/*/.tmp-*",
            "repos/*/branches/.tmp-*",
        ):
            for f in self.root.glob(pattern):
                with contextlib.suppress(OSError):
                    if f.stat().st_mtime < cutoff:
                        f.unlink()

    # ---- internals ----------------------------------------------------------
    def _repo_dir(self, repo: str) -> Path:
        return self.root / "repos" / repo

    def _commit_path(self, cid: str) -> Path:
        # Ids come from branch files and commit records: never let one name another file.
        if not is_sha256(cid):
            raise OnepipeError(
                f"{cid[:80]!r} is not a commit id (a branch file or commit record was "
                "altered; run `onepipe data verify`)"
            )
        return self.root / "commits" / f"{cid}.json"

    def _require_repo(self, repo: str) -> None:
        check_name("repo", repo)
        if not (self._repo_dir(repo) / "repo.json").is_file():
            repos = self.list_repos()
            hint = (
                closest(repo, repos)
                or " (the store has no repos yet; `onepipe data put` creates one)"
            )
            raise NotFoundError(f"unknown repo {repo!r}{hint}")

    def _ensure_repo(self, repo: str, description: str = "") -> None:
        """Write repo.json when missing or when its description changes; call under the lock."""
        meta_file = self._repo_dir(repo) / "repo.json"
        meta = json.loads(meta_file.read_bytes()) if meta_file.is_file() else None
        if meta is not None and (not description or meta.get("description") == description):
            return
        meta = meta or {"name": repo, "created": _now()}
        meta["description"] = description or self._descriptions.get(repo, "")
        (self._repo_dir(repo) / "branches").mkdir(exist_ok=True)
        atomic_write(meta_file, canonical(meta))

    @contextlib.contextmanager
    def _lock(self, repo: str) -> Iterator[None]:
        folder = self._repo_dir(repo)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / ".lock", "a+b") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    def _commits_with_prefix(self, prefix: str) -> list[Commit]:
        folder = self.root / "commits"
        found = sorted(folder.glob(f"{prefix}*.json"))
        return [self._load(f.stem) for f in found if is_sha256(f.stem)]

    def _tree(self, cid: str) -> Tree:
        return {f.path: (f.hash, f.size) for f in self._load(cid).files}

    def _load(self, cid: str) -> Commit:
        if cid in self._cache:
            return self._cache[cid]
        try:
            record = json.loads(self._commit_path(cid).read_bytes())
            files = [FileEntry(p, m["hash"], m["size"]) for p, m in sorted(record["tree"].items())]
            commit = Commit(
                record["repo"],
                cid,
                record["parent"],
                record.get("branch"),
                record["message"],
                record["time"],
                tuple(record["provenance"]),
                tuple(files),
            )
        except FileNotFoundError:
            raise OnepipeError(
                f"commit {cid[:12]} is missing from the store (run `onepipe data verify`)"
            ) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise OnepipeError(
                f"commits/{cid}.json is not a valid commit record ({exc}); "
                "run `onepipe data verify`"
            ) from None
        if len(self._cache) > 4096:  # commits are immutable; the bound only caps memory
            self._cache.clear()
        self._cache[cid] = commit
        return commit


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")
