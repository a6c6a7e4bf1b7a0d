"""The benchmarks are not run by the suite (timings belong in `make bench`), but each must
still import and parse its arguments: a bench that breaks silently is found here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = sorted((Path(__file__).resolve().parents[1] / "bench").glob("*.py"))


@pytest.mark.parametrize("script", BENCH, ids=lambda p: p.name)
def test_bench_script_imports_and_parses_arguments(script):
    result = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "usage:" in result.stdout


def test_monitoring_bench_reads_what_the_serving_bench_measures():
    # bench/monitoring.py reuses serving.py's client; a change to one broke the other once.
    sys.path.insert(0, str(BENCH[0].parent))
    try:
        import serving

        summary = serving.summarize(
            [{"latencies": [0.001, 0.002, 0.003, 0.004], "seconds": 1.0, "errors": 0}]
        )
    finally:
        sys.path.pop(0)
    assert summary["p50_ms"] == pytest.approx(2.5) and summary["rps"] == 4.0
