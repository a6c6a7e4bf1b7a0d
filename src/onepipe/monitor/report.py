"""What ``onepipe monitor``, ``/metrics`` and ``canary analyze`` compute, in one place."""

from __future__ import annotations

import time
from datetime import datetime
from itertools import chain
from typing import TYPE_CHECKING, Any

import numpy as np

from onepipe.errors import OnepipeError
from onepipe.history import Change, open_history
from onepipe.monitor import canary, drift
from onepipe.monitor.profile import profile_for_version
from onepipe.monitor.task import task_for
from onepipe.monitor.windows import version_stats

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.monitor.protocol import PredictionRecord, PredictionStore


def last_change(settings: Settings) -> Change | None:
    changes = open_history(settings).list(
        env=settings.env, backend=settings.backends.serve, model=settings.model_name, limit=1
    )
    return changes[0] if changes else None


def change_time(change: Change | None) -> float | None:
    if change is None:
        return None
    try:
        return datetime.fromisoformat(change.time).timestamp()
    except ValueError:
        return None


def canary_age(change: Change | None, now: float | None = None) -> float | None:
    """Seconds since the change that routes the live canary (the start of its analysis
    window); None when no challenger gets traffic (or a copy of it)."""
    if change is None or not change.state.challenger:
        return None
    if not (change.state.canary or change.state.shadow):
        return None
    started = change_time(change)
    if started is None:
        return None
    return max((time.time() if now is None else now) - started, 0.0)


def input_columns(records: list[PredictionRecord], names: list[str]) -> dict[str, np.ndarray]:
    """Columnar feature arrays over every row of ``records`` (one pass per column)."""
    out: dict[str, np.ndarray] = {}
    for name in names:
        values = list(chain.from_iterable((r.inputs or {}).get(name) or () for r in records))
        out[name] = np.asarray(values, dtype=object) if values else np.asarray([], dtype=float)
        if values and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in values[:50]
        ):
            try:
                out[name] = np.asarray(values, dtype=float)
            except (TypeError, ValueError):
                pass
    return out


def drift_for_version(
    settings: Settings, store: PredictionStore, version: str, since: float | None
) -> list[drift.FeatureDrift]:
    """The newest ``monitor.drift.max_rows`` requests' rows of one version vs its profile."""
    profile = profile_for_version(settings, settings.model_name, version)
    records = store.query(
        model_name=settings.model_name,
        model_version=str(version),
        since=since,
        limit=settings.monitor.drift.max_rows,
    )
    records = [r for r in records if r.status < 400]
    names = [*profile.get("numeric", {}), *profile.get("categorical", {})]
    return drift.compare(profile, input_columns(records, names), settings.monitor.drift)


def status(
    settings: Settings, store: PredictionStore, since: float, *, with_drift: bool = True
) -> dict[str, Any]:
    """Per version: traffic, errors, latency, live quality (the metrics of the version's
    task, ``task``), drift; and the canary verdict."""
    change = last_change(settings)
    state = change.state if change else None
    rows = store.window(model_name=settings.model_name, since=since)
    stats = version_stats(rows, tasks=lambda version: task_for(settings, version))
    serving = {}
    if state is not None:
        serving[str(state.champion)] = "champion"
        if state.challenger:
            serving[str(state.challenger)] = "challenger"
    versions = []
    for version in sorted(set(stats) | set(serving), key=lambda v: (len(v), v)):
        entry: dict[str, Any] = {
            "version": version,
            "role": serving.get(version, "not serving"),
            "weight": state.weights.get(version) if state and hasattr(state, "weights") else None,
        }
        st = stats.get(version)
        entry.update(
            st.to_dict()
            if st
            else {
                "requests": 0,
                "errors": 0,
                "error_rate": 0.0,
                "metrics": {},
                "rows": 0,
                "task": task_for(settings, version),
            }
        )
        if with_drift:
            try:
                results = drift_for_version(settings, store, version, since)
                entry["drift"] = [r.to_dict() for r in results]
                entry["drift_status"] = drift.worst(results)
            except OnepipeError as exc:
                entry["drift"], entry["drift_status"], entry["drift_error"] = [], "n/a", str(exc)
        versions.append(entry)
    verdict = analyze_canary(settings, store, since=since, rows=rows, change=change)
    now = time.time()
    return {
        "model": settings.model_name,
        "env": settings.env,
        "since": since,
        "now": now,
        "canary_age_s": canary_age(change, now),
        "state": state.to_dict() if state else None,
        "versions": versions,
        "canary": verdict.to_dict(),
        "alerts": alerts(versions, verdict),
    }


def analyze_canary(
    settings: Settings,
    store: PredictionStore,
    *,
    since: float,
    rows: list[dict[str, Any]] | None = None,
    change: Change | None = None,
) -> canary.Verdict:
    """Both arms over the same window: since the later of ``since`` and the last deployment change."""
    change = change if change is not None else last_change(settings)
    state = change.state if change else None
    if state is None or not state.challenger:
        return canary.Verdict(
            "wait",
            "no challenger is deployed (nothing to compare)",
            state.champion if state else None,
            None,
        )
    start = max(since, change_time(change) or since)
    if rows is None or start > since:
        rows = store.window(model_name=settings.model_name, since=start)
    verdict = judge_canary(settings, rows, state.champion, state.challenger)
    verdict.evidence["window_start"] = start
    return verdict


def judge_canary(
    settings: Settings, rows: list[dict[str, Any]], champion: str, challenger: str | None
) -> canary.Verdict:
    """``canary.analyze`` with the champion's task (declared or recorded; None lets the
    values decide) and the project's primary metric, which picks the loss under ``auto``."""
    task = task_for(settings, champion)
    metrics = settings.metrics_for(task)
    return canary.analyze(
        rows,
        champion,
        challenger,
        settings.monitor.canary,
        task=task,
        primary_metric=metrics[0].name if metrics else None,
    )


def alerts(versions: list[dict[str, Any]], verdict: canary.Verdict) -> list[str]:
    out = []
    for v in versions:
        bad = [d["feature"] for d in v.get("drift", []) if d["status"] == "alert"]
        if bad:
            out.append(f"v{v['version']}: drift on {', '.join(bad)}")
    if verdict.verdict == "rollback":
        out.append(f"canary: rollback ({verdict.reason})")
    return out
