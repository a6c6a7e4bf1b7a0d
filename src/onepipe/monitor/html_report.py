"""``onepipe report``: one self-contained HTML file of the loop's state.

Sections: live quality (feedback accuracy) and latency p50/p99 over time per
model version, drift per feature (PSI against the thresholds), the canary
comparison of the latest canary deployment (verdict + evidence), the deployment
history, and the lineage of each version (data commit, git commit, run, params,
trigger). Plots (report_plots.py) are embedded as base64 PNGs: the file opens
from disk, offline, with no server and no script.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onepipe.errors import OnepipeError
from onepipe.extras import require
from onepipe.history import open_history
from onepipe.monitor.report import change_time, drift_for_version, judge_canary, last_change
from onepipe.monitor.store import open_store
from onepipe.monitor.task import newest_task, task_for
from onepipe.monitor.windows import TaskOf, flatten_pairs, quality, task_of, version_stats
from onepipe.quality.metrics import primary_live_metric
from onepipe.tracking.client import client_for
from onepipe.tracking.lineage import lineage

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.monitor.protocol import PredictionStore

TEMPLATE = Path(__file__).with_name("report_template.html")
MAX_BUCKETS = 12


def _ts(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _version_key(v: str) -> tuple:
    return (0, int(v), "") if str(v).isdigit() else (1, 0, str(v))


# ---------------------------------------------------------------- data


def time_series(
    rows: list[dict[str, Any]],
    buckets: int = MAX_BUCKETS,
    *,
    tasks: TaskOf | None = None,
    metric: str | None = None,
) -> dict[str, Any]:
    """Per version and time bucket: requests, labelled rows, the live metrics of the
    version's task (``tasks``: version -> task), ``quality`` (the value of ``metric``),
    latency p50/p99 (ms)."""
    if not rows:
        return {"edges": [], "versions": {}}
    times = np.asarray([r["time"] for r in rows], dtype=float)
    t0, t1 = float(times.min()), float(times.max())
    width = max((t1 - t0) / buckets, 1.0)
    n = max(1, min(buckets, int(np.ceil((t1 - t0) / width)) or 1))
    index = np.minimum(((times - t0) // width).astype(int), n - 1)
    per: dict[str, dict[int, list[dict[str, Any]]]] = {}
    for r, i in zip(rows, index, strict=True):
        per.setdefault(str(r["model_version"]), {}).setdefault(int(i), []).append(r)
    out: dict[str, Any] = {}
    for version, by_bucket in sorted(per.items(), key=lambda kv: _version_key(kv[0])):
        series = []
        for i in sorted(by_bucket):
            items = by_bucket[i]
            lat = np.asarray(
                [r["latency_ms"] for r in items if r["status"] < 400 and r["latency_ms"]],
                dtype=float,
            )
            q = quality(*flatten_pairs(items), task_of(tasks, version))
            labelled = int(q.pop("labelled", 0))
            series.append(
                {
                    "t": t0 + (i + 0.5) * width,
                    "requests": len(items),
                    "labelled": labelled,
                    "metrics": q,
                    "quality": q.get(metric) if metric else None,
                    "p50": float(np.percentile(lat, 50)) if lat.size else None,
                    "p99": float(np.percentile(lat, 99)) if lat.size else None,
                }
            )
        out[version] = series
    return {"edges": [t0 + k * width for k in range(n + 1)], "versions": out}


def canary_section(
    settings: Settings, store: PredictionStore, since: float
) -> dict[str, Any] | None:
    """The latest deployment change that routed traffic to a challenger, analysed over its
    own window (until the next change), and what happened next."""
    changes = open_history(settings).list(
        env=settings.env, backend=settings.backends.serve, model=settings.model_name, limit=200
    )
    for i, change in enumerate(changes):  # newest first
        state = change.state
        if not state.challenger or not (state.canary or state.shadow):
            continue
        start = change_time(change) or since
        after = changes[i - 1] if i > 0 else None
        end = change_time(after) if after else None
        rows = [
            r
            for r in store.window(model_name=settings.model_name, since=start)
            if end is None or r["time"] < end
        ]
        verdict = judge_canary(settings, rows, state.champion, state.challenger)
        return {
            "change": change.to_dict(),
            "start": _ts(start),
            "end": _ts(end) if end else "now (still deployed)",
            "verdict": verdict.to_dict(),
            "outcome": after.to_dict() if after else None,
        }
    return None


def lineage_rows(
    settings: Settings, versions: list[str], tasks: Mapping[str, str | None] | None = None
) -> list[dict[str, Any]]:
    """Per version: aliases, trigger, data and git commits, run, params, and the run's
    values of the project's metrics (``settings.metrics_for`` the version's task; all of
    the run's metrics when no metric is known)."""
    client = client_for(settings)
    out = []
    for version in versions:
        try:
            info = lineage(settings, f"{settings.model_name}/{version}")
        except OnepipeError as exc:
            out.append({"version": version, "error": str(exc)})
            continue
        try:
            tags = client.get_run(info["run"]["id"]).data.tags
        except Exception:  # noqa: BLE001 - a run deleted meanwhile: show what the registry has
            tags = {}
        params = {
            k: v
            for k, v in sorted(info["run"]["params"].items())
            if k not in ("data_store",) and len(str(v)) < 120
        }
        out.append(
            {
                "version": version,
                "aliases": ", ".join(info["model"]["aliases"]) or "-",
                "data": info["data"],
                "git": info["git"],
                "run_id": info["run"]["id"],
                "started": _ts(info["run"]["start_time"] / 1000)
                if info["run"]["start_time"]
                else "-",
                "command": info["run"]["command"],
                "params": params,
                "metrics": _project_metrics(
                    settings, (tasks or {}).get(version), info["run"]["metrics"]
                ),
                "trigger": tags.get("onepipe.trigger", ""),
                "trigger_drift": tags.get("onepipe.trigger.drift", ""),
                "config_hash": info["config"]["hash"][:12],
            }
        )
    return out


def _project_metrics(
    settings: Settings, task: str | None, logged: dict[str, float]
) -> dict[str, float]:
    names = [m.name for m in settings.metrics_for(task)] or sorted(logged)
    return {name: round(logged[name], 4) for name in names if name in logged}


def collect(settings: Settings, since: float) -> dict[str, Any]:
    """Everything the report shows, as plain data (also what ``--json`` prints)."""
    store = open_store(settings)
    try:
        rows = store.window(model_name=settings.model_name, since=since)
        seen = sorted({str(r["model_version"]) for r in rows}, key=_version_key)
        change = last_change(settings)
        serving = [str(v) for v in change.state.versions] if change else []
        drift: dict[str, Any] = {}
        for version in sorted(set(seen) | set(serving), key=_version_key):
            try:
                results = drift_for_version(settings, store, version, since)
                drift[version] = {"features": [d.to_dict() for d in results]}
            except OnepipeError as exc:
                drift[version] = {"features": [], "error": str(exc)}
        canary = canary_section(settings, store, since)
    finally:
        store.close()
    client = client_for(settings)
    try:
        registered = sorted(
            (
                str(mv.version)
                for mv in client.search_model_versions(f"name='{settings.model_name}'")
            ),
            key=_version_key,
        )
    except Exception:  # noqa: BLE001 - no registry yet: report what was logged
        registered = []
    versions = sorted(set(registered) | set(seen) | set(serving), key=_version_key)
    # Each version judged by its task: declared, else recorded, else what its values look like.
    tasks = {v: task_for(settings, v) for v in versions}
    stats = version_stats(rows, tasks=tasks)
    tasks.update({v: st.task for v, st in stats.items()})
    task = newest_task(tasks)
    metrics = settings.metrics_for(task)
    watched = primary_live_metric(task, metrics)
    series = time_series(rows, tasks=tasks, metric=watched.name if watched else None)
    history = open_history(settings).list(
        env=settings.env, backend=settings.backends.serve, model=settings.model_name, limit=20
    )
    return {
        "model": settings.model_name,
        "env": settings.env,
        "since": since,
        "generated": time.time(),
        "requests": len(rows),
        "labelled": int(sum(st.metrics.get("labelled", 0) for st in stats.values())),
        "task": task,
        "tasks": tasks,
        "metrics": [m.to_dict() for m in metrics],
        "quality_metric": watched.to_dict() if watched else None,
        "live": {v: {"task": st.task, "metrics": st.metrics} for v, st in stats.items()},
        "serving": change.state.to_dict() if change else None,
        "series": series,
        "drift": drift,
        "canary": canary,
        "history": [c.to_dict() for c in history],
        "lineage": lineage_rows(settings, versions, tasks),
        "versions": versions,
        "thresholds": {
            "drift": settings.monitor.drift.model_dump(),
            "canary": settings.monitor.canary.model_dump(),
        },
    }


# ---------------------------------------------------------------- render


def render(data: dict[str, Any]) -> tuple[str, int]:
    """(HTML text, number of embedded plots)."""
    for module in ("matplotlib", "jinja2"):
        require(module, extra="report", what="the HTML report")
    # lazy: both need the optional 'report' extra, checked just above
    from jinja2 import Environment, select_autoescape

    from onepipe.monitor import report_plots as draw

    plots: dict[str, Any] = {
        "quality": draw.plot_quality(data),
        "latency": draw.plot_latency(data),
        "drift": {
            v: draw.plot_drift(v, d["features"], data["thresholds"]["drift"])
            for v, d in data["drift"].items()
            if d["features"]
        },
        "canary": draw.plot_canary(data["canary"]) if data["canary"] else None,
    }
    count = sum(1 for k in ("quality", "latency", "canary") if plots[k]) + len(plots["drift"])
    env = Environment(autoescape=select_autoescape(default=True, default_for_string=True))
    env.filters["ts"] = _ts
    env.filters["pct"] = lambda v: "-" if v is None else f"{v:.1%}"
    env.filters["num"] = lambda v, d=3: "-" if v is None else f"{v:.{d}f}"
    env.filters["short"] = lambda v: re.sub(r"@([0-9a-f]{12})[0-9a-f]{20,}", r"@\1", str(v))
    env.filters["tojson_pretty"] = lambda v: json.dumps(v, indent=1, default=str)
    html = env.from_string(TEMPLATE.read_text()).render(d=data, plots=plots)
    return html, count


def write_report(
    settings: Settings, output: str | Path, *, since: float
) -> tuple[Path, dict[str, Any]]:
    data = collect(settings, since)
    html, count = render(data)
    path = Path(output)
    if not path.is_absolute():
        path = Path.cwd() / path
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(path)
    summary = {
        "plots": count,
        "versions": data["versions"],
        "requests": data["requests"],
        "task": data["task"],
        "metrics": [m["name"] for m in data["metrics"]],
        "quality_metric": data["quality_metric"]["name"] if data["quality_metric"] else None,
        "canary": data["canary"]["verdict"]["verdict"] if data["canary"] else None,
    }
    return path, summary
