"""Garbage of the step cache: entries nothing reachable points to, and what killed runs left.

What is reachable is decided by the caller (``onepipe.gc``) and handed in as ``keep``:
the entries the project's pipeline hits now, and those behind a registered model
version. Entries used (hit or written) within ``keep_days`` are kept as well, so a
run of last week's params is still instant. Everything else is collected, together
with staging folders and annotation temp files of killed runs, and the kfp-local
runner's per-run folders older than ``keep_days``.

Running pipelines hold ``gc.lock`` shared (``StepCache.in_use``); collection holds it
exclusively, so no entry a run is reading and no staging folder a step is writing is
ever removed. When a run keeps the lock longer than ``wait_s``, the cache is skipped.
"""

from __future__ import annotations

import time
from pathlib import Path

from onepipe.lifecycle import sharedlock
from onepipe.lifecycle.swept import Swept
from onepipe.pipeline.cache import LOCK, StepCache

DAY_S = 86400.0


def _is_key(name: str) -> bool:
    return len(name) == 64 and all(c in "0123456789abcdef" for c in name)


def _idle_s(path: Path, now: float) -> float:
    try:
        return now - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def collect_cache(
    cache: StepCache,
    *,
    keep: set[str],
    keep_days: float,
    dry_run: bool,
    wait_s: float,
    runs_dir: Path | None = None,
) -> Swept:
    swept = Swept("step cache", dry_run)
    if not cache.root.is_dir():
        return swept
    now, retention = time.time(), keep_days * DAY_S
    with sharedlock.exclusive(cache.root / LOCK, wait_s) as alone:
        if not alone:
            return swept.skip(f"a pipeline was still running after {wait_s:.0f} s; try again")
        for folder in sorted((cache.root / ".staging").glob("*")):  # no run writes now
            swept.take("abandoned staging folders", folder)
        for tmp in sorted(cache.root.glob("??/*/meta.*.tmp")):
            swept.take("temp files", tmp)
        for entry in sorted(cache.root.glob("??/*")):
            if not entry.is_dir() or not _is_key(entry.name) or entry.name in keep:
                continue
            if _idle_s(entry, now) >= retention:
                swept.take("unreachable entries", entry)
        if runs_dir is not None and runs_dir.is_dir():
            for run in sorted(runs_dir.iterdir()):
                if _idle_s(run, now) >= retention:
                    swept.take("run folders", run)
    return swept
