"""Metric lines: what a trial prints and how both backends read it back.

The format is Katib's StdOut collector default, ``name=value``, matched by its
default ``metricsFormat`` regex (kept verbatim below and written into every
rendered Experiment, so the cluster and the local sweeper use the same filter).
Each line starts with an RFC 3339 timestamp: Katib's early stopping orders the
observations by it; the regex never matches inside the timestamp (it has no '=').
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

# Katib v1beta1 default for metricsCollectorSpec.source.filter.metricsFormat.
KATIB_METRICS_FORMAT = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
_PATTERN = re.compile(KATIB_METRICS_FORMAT)


def metric_line(name: str, value: float, *, now: datetime | None = None) -> str:
    stamp = (now or datetime.now(UTC)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return f"{stamp} {name}={float(value):.10g}"


def parse_line(line: str, names: Iterable[str] | None = None) -> list[tuple[str, float]]:
    """Every ``name=value`` in a line, as Katib's collector reads it.

    Like Katib, only the declared metric names are kept (``names``; None keeps all)
    and a match whose value is empty (``x=`` or ``x=abc``) is not a metric.
    """
    wanted = None if names is None else set(names)
    found = []
    for match in _PATTERN.finditer(line):
        name, raw = match.group(1), match.group(2)
        if wanted is not None and name not in wanted:
            continue
        try:
            value = float(raw)
        except ValueError:
            continue
        if math.isfinite(value):
            found.append((name, value))
    return found


@dataclass
class Observation:
    """All values seen for each metric, in order: the intermediate curve and the final value."""

    series: dict[str, list[float]] = field(default_factory=dict)

    def add(self, name: str, value: float) -> int:
        """Record one value; returns its 1-based step within that metric's series."""
        values = self.series.setdefault(name, [])
        values.append(value)
        return len(values)

    def latest(self, name: str) -> float | None:
        values = self.series.get(name)
        return values[-1] if values else None

    def finals(self) -> dict[str, float]:
        return {k: v[-1] for k, v in self.series.items() if v}


def parse_text(text: str, names: Iterable[str] | None = None) -> Observation:
    obs = Observation()
    for line in text.splitlines():
        for name, value in parse_line(line, names):
            obs.add(name, value)
    return obs
