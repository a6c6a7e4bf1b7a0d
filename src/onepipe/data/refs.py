"""How things are named: repos, branches, refs, commits (by content hash) and files in a commit.

Everything here is checked before a store writes anything, so bad input costs nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from onepipe.errors import NotFoundError, UsageError, closest

NAME_RULE = "letters, digits, '_', '.', '-', starting with a letter or digit"
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")
_HEX = re.compile(r"[0-9a-fA-F]+")

# Shorter prefixes collide too often to be a useful way of naming a commit.
MIN_PREFIX = 4
REF_FORMS = "REPO, REPO@BRANCH or REPO@COMMIT (a commit id prefix of at least 4 hex characters)"


def check_name(kind: str, name: str) -> str:
    """``name`` unchanged when it is a valid repo or branch name; UsageError naming the rule otherwise."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise UsageError(f"bad {kind} name {name!r} (expected {NAME_RULE}, at most 100 characters)")
    return name


FILE_RULE = (
    "a relative path such as data/a.csv: no leading '/', no '.' or '..' part, "
    "no '\\' or control characters"
)
_UNSAFE_CHARS = re.compile(r"[\x00-\x1f\x7f\\]")


def unsafe_file_path(path: object) -> str | None:
    """Why ``path`` could not be a file of a commit (it might land outside a target dir), or None.

    A backslash is refused too: it is a separator on Windows, where ``..\\x`` climbs out.
    """
    if not isinstance(path, str) or not path:
        return "is empty"
    if _UNSAFE_CHARS.search(path):
        return "holds a '\\' or a control character"
    if path.startswith("/"):
        return "is absolute"
    parts = path.split("/")
    if ".." in parts:
        return "has a '..' part"
    if "" in parts or "." in parts:
        return "has an empty or '.' part"
    return None


def check_file_path(path: str, where: str) -> str:
    """``path`` unchanged when it is a safe file path of a commit; UsageError naming it otherwise."""
    problem = unsafe_file_path(path)
    if problem:
        raise UsageError(f"{where}: file path {path!r} {problem} (expected {FILE_RULE})")
    return path


def parse_ref(ref: str) -> tuple[str, str | None]:
    """``"repo@x"`` -> ``("repo", "x")``; ``"repo"`` -> ``("repo", None)``."""
    if not isinstance(ref, str) or not ref.strip():
        raise UsageError(f"bad ref {ref!r} (expected {REF_FORMS})")
    repo, sep, part = ref.strip().partition("@")
    if sep and (not part or "@" in part):
        raise UsageError(f"bad ref {ref!r} (expected {REF_FORMS})")
    check_name("repo", repo)
    if not sep:
        return repo, None
    if not _NAME.fullmatch(part):
        raise UsageError(
            f"bad ref {ref!r}: {part!r} is neither a branch name nor a commit id (expected {REF_FORMS})"
        )
    return repo, part


def is_commit_prefix(part: str) -> bool:
    return len(part) >= MIN_PREFIX and len(part) <= 64 and bool(_HEX.fullmatch(part))


def is_sha256(value: object) -> bool:
    """A full commit id or object name: 64 lowercase hex characters."""
    return (
        isinstance(value, str)
        and len(value) == 64
        and bool(_HEX.fullmatch(value))
        and value == value.lower()
    )


# The fields that define a commit; the branch it was made on is a label, not part of its identity.
HASHED_FIELDS = ("repo", "parent", "tree", "message", "time", "provenance")


def canonical(obj: Any) -> bytes:
    """One byte string per value, so equal records hash equally on every machine."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def commit_id(record: Mapping[str, Any]) -> str:
    """The id a commit record must carry: the hash of exactly the fields that define it."""
    return hashlib.sha256(canonical({k: record[k] for k in HASHED_FIELDS})).hexdigest()


def commit_paths(
    paths: Sequence[Path | str] | Path | str, store_root: Path | None = None
) -> list[tuple[str, Path]]:
    """(name inside the commit, source file) for each file a put names, sorted by name.

    A file is stored under its basename; a directory's files relative to that directory.
    Files of the store itself (``store_root``) are never put into it.
    """
    skip = store_root.resolve() if store_root is not None else None
    if isinstance(paths, str | os.PathLike):
        paths = [paths]
    if not paths:
        raise UsageError("nothing to put (expected one or more files or directories)")
    found: dict[str, Path] = {}
    for raw in paths:
        src = Path(raw)
        if skip is not None and (src.resolve() == skip or skip in src.resolve().parents):
            raise UsageError(f"{raw}: is inside the data store {store_root} (expected input data)")
        if src.is_file():
            items = [(src.name, src)]
        elif src.is_dir():
            items = sorted((f.relative_to(src).as_posix(), f) for f in _walk(src, skip))
            if not items:
                raise UsageError(f"{raw}: directory holds no files (expected data to put)")
        elif src.exists():
            raise UsageError(f"{raw}: not a regular file or directory")
        else:
            raise UsageError(
                f"{raw}: no such file or directory (expected a file or directory to put)"
            )
        for dest, f in items:
            check_file_path(dest, str(raw))
            if dest in found and found[dest].resolve() != f.resolve():
                raise UsageError(
                    f"{found[dest]} and {f} would both be stored as {dest!r}; "
                    "put them in separate commits or directories"
                )
            found[dest] = f
    return sorted(found.items())


def _walk(folder: Path, skip: Path | None) -> Iterator[Path]:
    for dirpath, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if Path(dirpath, d).resolve() != skip)
        for name in files:
            f = Path(dirpath, name)
            if f.is_file():  # follows a symlink to a file; skips sockets, fifos, broken links
                yield f


def ambiguous_ref(ref: str, repo: str, part: str, shorts: list[str]) -> UsageError:
    """The error for a commit prefix that more than one commit of ``repo`` starts with."""
    return UsageError(
        f"ambiguous ref {ref!r}: {len(shorts)} commits of {repo!r} start "
        f"with {part!r} ({', '.join(sorted(shorts))}); give more characters"
    )


def unknown_ref(
    ref: str, repo: str, part: str | None, name: str, heads: dict[str, str]
) -> NotFoundError:
    """The error for a ref naming no branch or commit, with the closest branch names."""
    pool = list(heads)
    if part and is_commit_prefix(part):
        pool += [head[:12] for head in heads.values()]
    what = f"branch or commit {part!r}" if part else f"default branch {name!r}"
    return NotFoundError(f"unknown ref {ref!r}: repo {repo!r} has no {what}{closest(name, pool)}")


# A registry model (models:/name/version) that computed the data is kept verbatim as
# provenance: it is not a commit of any data store.
MODEL_PROVENANCE_PREFIX = "models:/"


def check_put(repo: str, branch: str | None, message: object, default_branch: str) -> str:
    """Validate a put's names and message; returns the branch to write."""
    check_name("repo", repo)
    branch = check_name("branch", branch or default_branch)
    if not isinstance(message, str):
        raise UsageError(f"commit message must be text, got {type(message).__name__}")
    return branch


def pin_provenance(resolve, provenance) -> tuple[str, ...]:
    """Provenance with data refs pinned to full commit refs (models:/ refs as given), deduplicated."""
    return tuple(
        dict.fromkeys(
            ref if ref.startswith(MODEL_PROVENANCE_PREFIX) else resolve(ref).ref
            for ref in provenance
        )
    )
