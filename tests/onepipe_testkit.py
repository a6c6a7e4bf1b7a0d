"""Helpers shared by the test modules (imported by name: keep this module name unique)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FAST = ["n_estimators=15", "max_depth=2"]


def copy_project(dest: Path) -> Path:
    """The example project (config, components, pipelines, data batches) under ``dest``."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "onepipe.yaml", dest / "onepipe.yaml")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for folder in ("components", "pipelines", "data"):
        shutil.copytree(REPO / folder, dest / folder, ignore=ignore, dirs_exist_ok=True)
    return dest


def git_init(root: Path) -> str:
    """Make ``root`` a git checkout with one commit; returns the commit id."""
    env = {
        **os.environ,
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.invalid",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.invalid",
    }
    (root / ".gitignore").write_text(".onepipe/\n__pycache__/\n")
    for args in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-qm", "init"]):
        subprocess.run(["git", *args], cwd=root, check=True, env=env, capture_output=True)
    return subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=root, check=True, capture_output=True, text=True
    ).stdout.strip()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


def run_onepipe(*args: str, cwd: Path, timeout: float = 300, env: dict | None = None) -> CliResult:
    """``python -m onepipe ARGS`` as a real subprocess (what a user's shell does)."""
    proc = subprocess.run(
        [sys.executable, "-m", "onepipe", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
    return CliResult(proc.returncode, proc.stdout, proc.stderr)
