"""Sliding-window statistics per model version, from the store's light columns."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from onepipe.errors import UsageError
from onepipe.quality.metrics import live_metrics
from onepipe.quality.tasks import task_of_values

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text: str | float | int) -> float:
    """``90s``, ``30m``, ``1h``, ``2d`` (or a number of seconds) -> seconds."""
    if isinstance(text, int | float):
        return float(text)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", str(text))
    if not match:
        raise UsageError(f"duration {text!r}: expected a number and a unit, e.g. 30m, 1h, 2d")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


def since_from(text: str | float | None, default: str) -> float:
    return time.time() - parse_duration(text if text is not None else default)


def _is_error(status: int) -> bool:
    return status >= 400


def flatten_pairs(rows: list[dict[str, Any]]) -> tuple[list, list]:
    """(predictions, truths) row by row for the labelled requests of ``rows``."""
    preds: list = []
    truths: list = []
    for r in rows:
        truth, out = r.get("truth"), r.get("outputs")
        if truth is None or out is None or len(truth) != len(out):
            continue
        preds.extend(out)
        truths.extend(truth)
    return preds, truths


def quality(preds: list, truths: list, task: str | None = None) -> dict[str, float]:
    """The live metrics of ``task`` (``quality.metrics.LIVE``) plus ``labelled``; with no
    task known the values decide (``quality.task_of_values``), never a classifier by default."""
    return live_metrics(task, preds, truths)


def judged_task(task: str | None, preds: list, truths: list) -> str | None:
    """``task`` when known, else what the labelled values look like (None without any)."""
    return task or (task_of_values([*truths, *preds]) if preds else None)


# A version's task, as the caller knows it (declared or recorded with the version):
# a mapping or a callable, so this module never asks the registry itself.
TaskOf = Callable[[str], str | None] | Mapping[str, str | None]


def task_of(tasks: TaskOf | None, version: str) -> str | None:
    if tasks is None:
        return None
    if isinstance(tasks, Mapping):
        return tasks.get(version)
    return tasks(version)


@dataclass
class VersionStats:
    model_name: str
    model_version: str
    alias: str
    requests: int
    errors: int
    rows: int
    latency_p50_ms: float | None
    latency_p99_ms: float | None
    metrics: dict[str, float] = field(default_factory=dict)
    task: str | None = None  # the task ``metrics`` were computed for

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": self.error_rate}


def version_stats(
    rows: list[dict[str, Any]], *, tasks: TaskOf | None = None
) -> dict[str, VersionStats]:
    """Group window rows by model version; each version's live quality is judged by its
    task from ``tasks`` (version -> task), else by what its labelled values look like."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(str(r["model_version"]), []).append(r)
    out: dict[str, VersionStats] = {}
    for version, items in sorted(groups.items(), key=lambda kv: _version_key(kv[0])):
        ok = [
            r["latency_ms"]
            for r in items
            if not _is_error(r["status"]) and r["latency_ms"] is not None
        ]
        lat = np.asarray(ok, dtype=float)
        aliases = [r["model_alias"] for r in items if r.get("model_alias")]
        preds, truths = flatten_pairs(items)
        task = judged_task(task_of(tasks, version), preds, truths)
        out[version] = VersionStats(
            model_name=items[0]["model_name"],
            model_version=version,
            alias=aliases[-1] if aliases else "",
            requests=len(items),
            errors=sum(1 for r in items if _is_error(r["status"])),
            rows=sum(int(r.get("n_rows") or 0) for r in items),
            latency_p50_ms=float(np.percentile(lat, 50)) if lat.size else None,
            latency_p99_ms=float(np.percentile(lat, 99)) if lat.size else None,
            metrics=quality(preds, truths, task),
            task=task,
        )
    return out


def _version_key(v: str) -> tuple:
    return (0, int(v), "") if v.isdigit() else (1, 0, v)
