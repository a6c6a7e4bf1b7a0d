"""The HTML report's plots (``onepipe report``), drawn with matplotlib's Agg backend
and returned as base64 PNGs. Needs the ``report`` extra: html_report.py checks for it
before it imports this module.
"""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime
from typing import Any

import matplotlib

matplotlib.use("Agg", force=True)  # before pyplot: no display, no GUI toolkit

import matplotlib.dates as mdates  # noqa: E402 - after choosing the backend
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#17becf"]
STATUS_COLORS = {"ok": "#2ca02c", "warn": "#ff7f0e", "alert": "#d62728", "n/a": "#999999"}


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _color(versions: list[str], v: str) -> str:
    return COLORS[versions.index(v) % len(COLORS)] if v in versions else COLORS[0]


def _time_axis(ax) -> None:
    ax.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M", tz=UTC))
    ax.set_xlabel("time (UTC)")
    ax.grid(alpha=0.3)


def plot_quality(data: dict[str, Any]) -> str | None:
    """The task's primary live metric (``data["quality_metric"]``) per version over time."""
    watched = data.get("quality_metric")
    series = data["series"]["versions"]
    values = [p["quality"] for s in series.values() for p in s if p["quality"] is not None]
    if watched is None or not values:
        return None
    fig, ax = plt.subplots(figsize=(10, 3.6))
    for v, points in series.items():
        pts = [p for p in points if p["quality"] is not None]
        if not pts:
            continue
        x = [datetime.fromtimestamp(p["t"], UTC) for p in pts]
        ax.plot(x, [p["quality"] for p in pts], marker="o", color=_color(data["versions"], v),
                label=f"v{v} ({sum(p['labelled'] for p in pts)} labelled rows)")  # fmt: skip
    better = "higher" if watched["direction"] == "maximize" else "lower"
    ax.set_ylabel(f"{watched['name']} from feedback ({better} is better)")
    if watched["direction"] == "maximize" and 0 <= min(values) and max(values) <= 1:
        ax.set_ylim(0, 1.02)  # a share: show it on its whole scale
    elif min(values) >= 0:
        ax.set_ylim(bottom=0)
    ax.set_title(f"Live {watched['name']} per model version")
    _time_axis(ax)
    ax.legend(loc="best")
    return _png(fig)


def plot_latency(data: dict[str, Any]) -> str | None:
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
    """Requests; each arm's mean loss with its bound; the difference against 0 (rollback
    when its lower bound is above) and the margin (promote when its upper bound is below);
    latency."""
    ev = section["verdict"]["evidence"]
    arms = [(name, ev.get(name) or {}) for name in ("champion", "challenger")]
    if not all(a.get("requests") for _, a in arms):
        return None
    fig, (ax1, ax2, ax3, ax4) = plt.subplots(1, 4, figsize=(14, 3.4))
    labels = [f"{name}\nv{a['model_version']}" for name, a in arms]
    colors = [COLORS[0], COLORS[1]]
    ax1.bar(labels, [a["requests"] for _, a in arms], color=colors)
    ax1.set_title("requests")
    test = ev.get("loss_test") or {}
    loss = ev.get("loss", "loss")
    if test:
        q = test.get("quantile", 0.0)
        means = [test[name]["mean"] for name, _ in arms]
        ax2.bar(labels, means, yerr=[q * test[name]["se"] for name, _ in arms], capsize=6,
                color=colors)  # fmt: skip
        ax2.set_title(f"mean {loss}, lower is better")
    else:
        _no_data(ax2, "no labelled comparison yet")
    if "difference" in test:
        level = f"{1 - test['alpha']:.0%}"
        ax3.errorbar([test["difference"]], [0],
                     xerr=[[test["difference"] - test["lower"]], [test["upper"] - test["difference"]]],
                     fmt="o", color="#333333", capsize=6, label=f"difference, {level} bounds")  # fmt: skip
        ax3.axvline(0, color=STATUS_COLORS["alert"], ls="--", label="rollback: lower bound > 0")
        ax3.axvline(test["margin"], color=STATUS_COLORS["ok"], ls="--",
                    label=f"promote: upper bound < margin {test['margin']:.4g}")  # fmt: skip
        ax3.set_yticks([])
        ax3.set_ylim(-1, 2)
        ax3.set_title("difference (challenger - champion)")
        ax3.legend(loc="upper center", fontsize=7)
    else:
        _no_data(ax3, section["verdict"]["verdict"])
    p50 = [a.get("latency_p50_ms") or 0 for _, a in arms]
    p99 = [a.get("latency_p99_ms") or 0 for _, a in arms]
    x = np.arange(2)
    ax4.bar(x - 0.2, p50, 0.4, label="p50", color="#7f7f7f")
    ax4.bar(x + 0.2, p99, 0.4, label="p99", color="#3f3f3f")
    ax4.set_xticks(x, labels)
    ax4.set_title("latency (ms)")
    ax4.legend(loc="lower right")
    fig.tight_layout()
    return _png(fig)


def _no_data(ax, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, color="#777777")
    ax.set_xticks([])
    ax.set_yticks([])
