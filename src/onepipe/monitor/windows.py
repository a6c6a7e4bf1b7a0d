"""Sliding-window statistics per model version, from the store's light columns."""

from __future__ import annotations

import re
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from onepipe.errors import UsageError

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


def quality(preds: list, truths: list) -> dict[str, float]:
    """Accuracy (+ precision/recall for 0/1 labels), or MAE/RMSE for continuous outputs."""
    if not preds:
        return {}
    try:
        p = np.asarray(preds, dtype=float)
        t = np.asarray(truths, dtype=float)
    except (TypeError, ValueError):
        p_s, t_s = np.asarray(preds, dtype=str), np.asarray(truths, dtype=str)
        return {"accuracy": float(np.mean(p_s == t_s)), "labelled": float(len(preds))}
    if np.all(p == np.round(p)) and np.all(t == np.round(t)):
        out = {"accuracy": float(np.mean(p == t)), "labelled": float(len(p))}
        if set(np.unique(np.concatenate([p, t]))) <= {0.0, 1.0}:
            tp = float(np.sum((p == 1) & (t == 1)))
            out["precision"] = tp / max(float(np.sum(p == 1)), 1.0)
            out["recall"] = tp / max(float(np.sum(t == 1)), 1.0)
            out["positive_rate"] = float(np.mean(p == 1))
        return out
    err = p - t
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "labelled": float(len(p)),
    }


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

    @property
    def error_rate(self) -> float:
        return self.errors / self.requests if self.requests else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "error_rate": self.error_rate}


def version_stats(rows: list[dict[str, Any]]) -> dict[str, VersionStats]:
    """Group window rows by model version."""
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
        out[version] = VersionStats(
            model_name=items[0]["model_name"],
            model_version=version,
            alias=aliases[-1] if aliases else "",
            requests=len(items),
            errors=sum(1 for r in items if _is_error(r["status"])),
            rows=sum(int(r.get("n_rows") or 0) for r in items),
            latency_p50_ms=float(np.percentile(lat, 50)) if lat.size else None,
            latency_p99_ms=float(np.percentile(lat, 99)) if lat.size else None,
            metrics=quality(preds, truths),
        )
    return out


def _version_key(v: str) -> tuple:
    return (0, int(v), "") if v.isdigit() else (1, 0, v)
