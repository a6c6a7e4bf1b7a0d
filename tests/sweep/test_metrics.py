"""The metric lines a trial prints, read back exactly as Katib's StdOut collector reads them."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from onepipe.sweep.metrics import KATIB_METRICS_FORMAT, metric_line, parse_line, parse_text


def test_regex_is_katibs_documented_default():
    assert KATIB_METRICS_FORMAT == r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"


def test_lines_round_trip_with_timestamp_first():
    line = metric_line("roc_auc", 0.8512345678901, now=datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC))
    assert line == "2026-01-02T03:04:05.000006Z roc_auc=0.8512345679"
    assert parse_line(line) == [("roc_auc", 0.8512345679)]


def test_parser_follows_katib_rules():
    assert parse_line("loss=3.0e-02 recall=0.5 precision=.4") == [
        ("loss", 0.03),
        ("recall", 0.5),
        ("precision", 0.4),
    ]
    # Only declared names are kept, like Katib's collector.
    assert parse_line("roc_auc=0.9 n_estimators=10", ["roc_auc"]) == [("roc_auc", 0.9)]
    # A name without a number is not a metric.
    assert parse_line("status=ok roc_auc=") == []
    assert parse_line("validation-auc = -1.5E+1") == [("validation-auc", -15.0)]


def test_observation_keeps_curve_and_latest():
    text = "\n".join(["x roc_auc=0.7", "noise", "roc_auc=0.8 f1=0.2", "roc_auc=0.85"])
    obs = parse_text(text, ["roc_auc", "f1"])
    assert obs.series["roc_auc"] == [0.7, 0.8, 0.85]
    assert obs.finals() == {"roc_auc": 0.85, "f1": 0.2}
    # Same regex, compiled by anyone (Katib's collector is Go; RE2 and Python agree on it).
    assert re.findall(KATIB_METRICS_FORMAT, "a=1")[0][:2] == ("a", "1")
