"""``onepipe report``: one self-contained HTML file of the loop's state.

Sections: live quality (feedback accuracy) and latency p50/p99 over time per
model version, drift per feature (PSI against the thresholds), the canary
comparison of the latest canary deployment (verdict + evidence), the deployment
history, and the lineage of each version (data commit, git commit, run, params,
trigger). Plots are drawn with matplotlib's Agg backend and embedded as base64
PNGs: the file opens from disk, offline, with no server and no script.
"""

from __future__ import annotations

import base64
import io
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from onepipe.errors import OnepipeError
from onepipe.monitor import canary as canary_mod
from onepipe.monitor.windows import flatten_pairs, quality

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.monitor.protocol import PredictionStore

TEMPLATE = Path(__file__).with_name("report_template.html")
MAX_BUCKETS = 12
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
STATUS_COLORS = {"ok": "#2ca02c", "warn": "#ff7f0e", "alert": "#d62728", "n/a": "#999999"}


def _ts(epoch: float | None) -> str:
    if epoch is None:
        return "-"
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _version_key(v: str) -> tuple:
    return (0, int(v), "") if str(v).isdigit() else (1, 0, str(v))


# ---------------------------------------------------------------- data


def time_series(rows: list[dict[str, Any]], buckets: int = MAX_BUCKETS) -> dict[str, Any]:
    """Per version and time bucket: requests, accuracy (labelled rows), latency p50/p99 (ms)."""
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
            q = quality(*flatten_pairs(items))
            series.append(
                {
                    "t": t0 + (i + 0.5) * width,
                    "requests": len(items),
                    "accuracy": q.get("accuracy"),
                    "labelled": int(q.get("labelled", 0)),
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
    from onepipe.monitor.report import change_time
    from onepipe.serve.history import open_history

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
        verdict = canary_mod.analyze(
            rows, state.champion, state.challenger, settings.monitor.canary
        )
        return {
            "change": change.to_dict(),
            "start": _ts(start),
            "end": _ts(end) if end else "now (still deployed)",
            "verdict": verdict.to_dict(),
            "outcome": after.to_dict() if after else None,
        }
    return None


def lineage_rows(settings: Settings, versions: list[str]) -> list[dict[str, Any]]:
    from onepipe.tracking.client import client_for
    from onepipe.tracking.lineage import lineage

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
                "metrics": {
                    k: round(v, 4)
                    for k, v in sorted(info["run"]["metrics"].items())
                    if k in ("roc_auc", "accuracy", "f1", "log_loss")
                },
                "trigger": tags.get("onepipe.trigger", ""),
                "trigger_drift": tags.get("onepipe.trigger.drift", ""),
                "config_hash": info["config"]["hash"][:12],
            }
        )
    return out


def collect(settings: Settings, since: float) -> dict[str, Any]:
    """Everything the report shows, as plain data (also what ``--json`` prints)."""
    from onepipe.monitor.report import drift_for_version, last_change
    from onepipe.monitor.store import open_store
    from onepipe.serve.history import open_history
    from onepipe.tracking.client import client_for

    store = open_store(settings)
    try:
        rows = store.window(model_name=settings.model_name, since=since)
        series = time_series(rows)
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
    history = open_history(settings).list(
        env=settings.env, backend=settings.backends.serve, model=settings.model_name, limit=20
    )
    return {
        "model": settings.model_name,
        "env": settings.env,
        "since": since,
        "generated": time.time(),
        "requests": len(rows),
        "serving": change.state.to_dict() if change else None,
        "series": series,
        "drift": drift,
        "canary": canary,
        "history": [c.to_dict() for c in history],
        "lineage": lineage_rows(settings, versions),
        "versions": versions,
        "thresholds": {
            "drift": settings.monitor.drift.model_dump(),
            "canary": settings.monitor.canary.model_dump(),
        },
    }


# ---------------------------------------------------------------- plots


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _color(versions: list[str], v: str) -> str:
    return COLORS[versions.index(v) % len(COLORS)] if v in versions else COLORS[0]


def _time_axis(ax) -> None:
    import matplotlib.dates as mdates

    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)


def plot_quality(data: dict[str, Any]) -> str | None:
    import matplotlib.pyplot as plt

    series = data["series"]["versions"]
    if not any(p["accuracy"] is not None for s in series.values() for p in s):
        return None
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for v, points in series.items():
        pts = [p for p in points if p["accuracy"] is not None]
        if not pts:
            continue
        x = [datetime.fromtimestamp(p["t"], UTC) for p in pts]
        ax.plot(x, [p["accuracy"] for p in pts], marker="o", color=_color(data["versions"], v),
                label=f"v{v} ({sum(p['labelled'] for p in pts)} labelled rows)")  # fmt: skip
    ax.set_ylabel("accuracy (from feedback)")
    ax.set_ylim(0, 1.02)
    ax.set_title("Live quality per model version")
    _time_axis(ax)
    ax.legend(loc="lower left")
    return _png(fig)


def plot_latency(data: dict[str, Any]) -> str | None:
    import matplotlib.pyplot as plt

    series = data["series"]["versions"]
    if not any(p["p50"] is not None for s in series.values() for p in s):
        return None
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for v, points in series.items():
        pts = [p for p in points if p["p50"] is not None]
        if not pts:
            continue
        x = [datetime.fromtimestamp(p["t"], UTC) for p in pts]
        color = _color(data["versions"], v)
        ax.plot(x, [p["p50"] for p in pts], marker="o", color=color, label=f"v{v} p50")
        ax.plot(x, [p["p99"] for p in pts], marker="^", ls="--", color=color, label=f"v{v} p99")
    ax.set_ylabel("latency (ms)")
    ax.set_ylim(bottom=0)
    ax.set_title("Gateway latency per model version")
    _time_axis(ax)
    ax.legend(loc="upper left", ncol=2)
    return _png(fig)


def plot_drift(version: str, features: list[dict[str, Any]], thresholds: dict[str, Any]) -> str:
    import matplotlib.pyplot as plt

    feats = sorted(features, key=lambda d: d["psi"])
    fig, ax = plt.subplots(figsize=(10, 0.38 * len(feats) + 1.4))
    y = np.arange(len(feats))
    ax.barh(y, [d["psi"] for d in feats], color=[STATUS_COLORS[d["status"]] for d in feats])
    ax.set_yticks(y, [f"{d['feature']} ({d['status']})" for d in feats])
    ax.axvline(thresholds["psi_warn"], color=STATUS_COLORS["warn"], ls="--",
               label=f"warn {thresholds['psi_warn']}")  # fmt: skip
    ax.axvline(thresholds["psi_alert"], color=STATUS_COLORS["alert"], ls="--",
               label=f"alert {thresholds['psi_alert']}")  # fmt: skip
    rows = max((d["rows"] for d in feats), default=0)
    ax.set_xlabel("PSI vs the training profile")
    ax.set_title(f"Drift per feature, v{version} ({rows} live rows)")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="lower right")
    return _png(fig)


def plot_canary(section: dict[str, Any]) -> str | None:
    import matplotlib.pyplot as plt

    ev = section["verdict"]["evidence"]
    arms = [(name, ev.get(name) or {}) for name in ("champion", "challenger")]
    if not all(a.get("requests") for _, a in arms):
        return None
    fig, (ax1, ax2, ax3) = plt.subplots(1, 3, figsize=(11, 3.4))
    labels = [f"{name}\nv{a['model_version']}" for name, a in arms]
    colors = [COLORS[0], COLORS[1]]
    ax1.bar(labels, [a["requests"] for _, a in arms], color=colors)
    ax1.set_title("requests")
    acc, err = [], []
    for _, a in arms:
        m = a.get("metrics") or {}
        p, n = m.get("accuracy"), m.get("labelled", 0)
        acc.append(p if p is not None else 0.0)
        err.append(1.96 * np.sqrt(p * (1 - p) / n) if p is not None and n else 0.0)
    ax2.bar(labels, acc, yerr=err, capsize=6, color=colors)
    ax2.set_ylim(0, 1)
    ax2.set_title("accuracy (95% CI)")
    p50 = [a.get("latency_p50_ms") or 0 for _, a in arms]
    p99 = [a.get("latency_p99_ms") or 0 for _, a in arms]
    x = np.arange(2)
    ax3.bar(x - 0.2, p50, 0.4, label="p50", color="#7f7f7f")
    ax3.bar(x + 0.2, p99, 0.4, label="p99", color="#3f3f3f")
    ax3.set_xticks(x, labels)
    ax3.set_title("latency (ms)")
    ax3.legend(loc="lower right")
    fig.tight_layout()
    return _png(fig)


# ---------------------------------------------------------------- render


def render(data: dict[str, Any]) -> tuple[str, int]:
    """(HTML text, number of embedded plots)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from jinja2 import Environment, select_autoescape

    plots: dict[str, Any] = {
        "quality": plot_quality(data),
        "latency": plot_latency(data),
        "drift": {
            v: plot_drift(v, d["features"], data["thresholds"]["drift"])
            for v, d in data["drift"].items()
            if d["features"]
        },
        "canary": plot_canary(data["canary"]) if data["canary"] else None,
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
        "canary": data["canary"]["verdict"]["verdict"] if data["canary"] else None,
    }
    return path, summary
