"""The code a run came from: git commit, whether the tree was dirty, and a hash of the diff."""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitState:
    commit: str  # "none" outside a git checkout
    dirty: bool
    diff_hash: str  # sha256 of `git diff HEAD` + untracked names; "" when clean
    branch: str = ""

    def tags(self) -> dict[str, str]:
        return {
            "onepipe.git.commit": self.commit,
            "onepipe.git.dirty": str(self.dirty).lower(),
            "onepipe.git.diff_hash": self.diff_hash,
            "onepipe.git.branch": self.branch,
            "mlflow.source.git.commit": self.commit,
        }


def _git(root: Path, *args: str) -> str | None:
    try:
        proc = subprocess.run(
            ["git", *args], cwd=root, capture_output=True, timeout=20, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.decode(errors="replace") if proc.returncode == 0 else None


def git_state(root: Path) -> GitState:
    head = _git(root, "rev-parse", "HEAD")
    if head is None:
        inside = _git(root, "rev-parse", "--is-inside-work-tree")
        if inside is None:
            return GitState("none", False, "")
        head = "none\n"  # a repository with no commit yet
    status = _git(root, "status", "--porcelain", "--untracked-files=normal") or ""
    dirty = bool(status.strip())
    diff_hash = ""
    if dirty:
        diff = _git(root, "diff", "HEAD", "--binary") or ""
        untracked = "\n".join(
            sorted(line[3:] for line in status.splitlines() if line.startswith("??"))
        )
        diff_hash = hashlib.sha256((diff + "\0" + untracked).encode()).hexdigest()[:16]
    branch = (_git(root, "rev-parse", "--abbrev-ref", "HEAD") or "").strip()
    return GitState(head.strip(), dirty, diff_hash, branch)
