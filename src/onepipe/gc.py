"""``onepipe gc``: what killed commands left behind, and what nothing reachable points to.

Two areas, each collected under its own lock so nothing a running put or pipeline
uses is touched (lifecycle/sharedlock.py):

* the data store (``DataStore.collect``; data/gc.py for the embedded one): temporary
  files of killed puts, commits no branch reaches, blobs no kept commit names;
* the step cache (pipeline/cache_gc.py). An entry is *reachable*, and kept, when
  1. the project's pipeline hits it now: the config gc was given (``--env``,
     ``--variant``, ``-p``) on the data branch heads, exactly as ``onepipe run`` would;
  2. a registered version of the project's model was trained by the run it belongs
     to (the run's step runs name their cache keys in MLflow);
  3. it was used (hit or written) within ``keep_days`` days.
  If 1 or 2 cannot be worked out (the pipeline does not compile, the data or the
  tracking server cannot be read), the cache is left alone and the report says why.

Temporary files older than an hour are also removed at the start of every put.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onepipe.config import Settings
from onepipe.data import open_store
from onepipe.errors import OnepipeError
from onepipe.lifecycle.swept import Swept
from onepipe.pipeline.cache import StepCache
from onepipe.pipeline.cache_gc import collect_cache
from onepipe.pipeline.execute import build_plan
from onepipe.pipeline.runners.inprocess import cached_chain
from onepipe.tracking.lineage import registered_cache_keys

DEFAULT_KEEP_DAYS = 7.0
DEFAULT_WAIT_S = 30.0


@dataclass
class GcReport:
    dry_run: bool
    areas: list[Swept]

    @property
    def bytes(self) -> int:
        return sum(a.bytes for a in self.areas)

    def to_json(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "bytes": self.bytes,
            "areas": [a.to_json() for a in self.areas],
        }


def collect(
    settings: Settings,
    *,
    dry_run: bool = False,
    keep_days: float = DEFAULT_KEEP_DAYS,
    wait_s: float = DEFAULT_WAIT_S,
) -> GcReport:
    data = open_store(settings).collect(dry_run=dry_run, wait_s=wait_s)
    return GcReport(dry_run, [data, _collect_cache(settings, dry_run, keep_days, wait_s)])


def _collect_cache(settings: Settings, dry_run: bool, keep_days: float, wait_s: float) -> Swept:
    cache = StepCache(settings.path(settings.pipeline.cache_dir))
    if not cache.root.is_dir():
        return Swept("step cache", dry_run)
    try:
        keep = _reachable_keys(settings)
    except Exception as exc:  # noqa: BLE001 - unknown reachability: remove nothing
        why = str(exc) if isinstance(exc, OnepipeError) else f"{type(exc).__name__}: {exc}"
        return Swept("step cache", dry_run).skip(f"cannot tell what is reachable ({why})")
    return collect_cache(
        cache,
        keep=keep,
        keep_days=keep_days,
        dry_run=dry_run,
        wait_s=wait_s,
        runs_dir=settings.path(settings.pipeline.runs_dir),
    )


def _reachable_keys(settings: Settings) -> set[str]:
    plan, _ = build_plan(settings)
    return set(cached_chain(plan)) | registered_cache_keys(settings)
