"""Serving benchmark: MLServer directly vs through the onepipe gateway, same model, same machine.

    python bench/serving.py [--project DIR] [--duration 8] [--warmup 0.5]

Without --project a throwaway project is built (data put, one training run, promote).
`onepipe serve` runs as a subprocess (as a user runs it); the direct baseline is the
very MLServer process the gateway forwards to (over its owner-only Unix socket, as the
gateway reaches it), measured in the same run. The load
generator is a minimal keep-alive HTTP/1.1 client on asyncio (one connection per
client), so it costs both paths the same. Prints p50/p99 latency and throughput at
1 and 16 concurrent clients, and the ratios against the targets (gateway adds at
most 1 ms at p50; keeps at least 80% of direct throughput at 16 clients). The added
latency is judged on paired requests (one client alternating direct and gateway
request by request): MLServer's own p50 drifts by milliseconds between rounds here,
more than the effect being measured.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import yaml

REPO = Path(__file__).resolve().parents[1]
ROW = {
    "age": 52,
    "annual_income": 88700.0,
    "employment_type": "contract",
    "home_ownership": "rent",
    "region": "south",
    "purpose": "car",
    "loan_amount": 12950.0,
    "loan_term_months": 36,
    "interest_rate": 11.33,
    "credit_score": 642,
    "num_open_accounts": 6,
    "num_late_payments_2y": 0,
    "debt_to_income": 0.3,
}
V2_TYPES = {int: "INT64", float: "FP64", str: "BYTES"}
BODY = json.dumps(
    {
        "inputs": [
            {"name": k, "datatype": V2_TYPES[type(v)], "shape": [1, 1], "data": [v]}
            for k, v in ROW.items()
        ]
    }
).encode()


def build_project(root: Path) -> Path:
    for part in ("components", "pipelines"):
        shutil.copytree(REPO / part, root / part, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO / "data" / "loans", root / "data" / "loans")
    shutil.copy(REPO / "onepipe.yaml", root / "onepipe.yaml")
    env = {**os.environ, "ONEPIPE_USER": "bench"}
    for cmd in (
        ["data", "put", "loans", "data/loans/batch_1.csv"],
        ["run", "-p", "n_estimators=20"],
        ["promote"],
    ):
        subprocess.run(
            [sys.executable, "-m", "onepipe", *cmd],
            cwd=root,
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    return root


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Connection:
    """One keep-alive HTTP/1.1 connection posting the benchmark body (TCP, or a Unix socket)."""

    def __init__(self, host: str, port: int | None, path: str) -> None:
        self.host, self.port = host, port  # port None: ``host`` is a Unix socket's path
        self.request = (
            f"POST {path} HTTP/1.1\r\nHost: {host if port else 'localhost'}:{port or 80}\r\n"
            f"Content-Type: application/json\r\n"
            f"Content-Length: {len(BODY)}\r\nConnection: keep-alive\r\n\r\n"
        ).encode() + BODY

    async def open(self) -> _Connection:
        if self.port is None:
            self.reader, self.writer = await asyncio.open_unix_connection(self.host)
        else:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    def close(self) -> None:
        self.writer.close()

    async def roundtrip(self) -> tuple[bool, float]:
        """(answered 200, seconds)."""
        t0 = time.perf_counter()
        self.writer.write(self.request)
        await self.writer.drain()
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
        await self.reader.readexactly(length)
        return b" 200 " in status_line, time.perf_counter() - t0


async def _client(
    url: str, path: str, stop_at: float, measure_from: float, out: list[float]
) -> int:
    conn = await _endpoint(url, path).open()
    errors = 0
    try:
        while time.perf_counter() < stop_at:
            started = time.perf_counter()
            ok, seconds = await conn.roundtrip()
            if not ok:
                errors += 1
            elif started >= measure_from:
                out.append(seconds)
    finally:
        conn.close()
    return errors


def _endpoint(url: str, path: str) -> _Connection:
    if url.startswith("unix:"):  # MLServer's owner-only socket (the default)
        return _Connection(url[len("unix:") :], None, path)
    parts = urlsplit(url)
    return _Connection(parts.hostname, parts.port, path)


async def paired(direct: tuple, gateway: tuple, duration: float, warmup: float) -> dict:
    """One client alternating request by request: direct, then through the gateway.

    Each gateway request is compared with the direct one just before it, so drift in
    MLServer's own latency (several ms between seconds on a shared machine) cancels
    out of the difference instead of swamping a sub-millisecond effect.
    """
    a = await _endpoint(*direct).open()
    b = await _endpoint(*gateway).open()
    now = time.perf_counter()
    measure_from, stop_at = now + warmup, now + warmup + duration
    pairs, errors = [], 0
    try:
        while (t := time.perf_counter()) < stop_at:
            ok_a, da = await a.roundtrip()
            ok_b, db = await b.roundtrip()
            errors += (not ok_a) + (not ok_b)
            if ok_a and ok_b and t >= measure_from:
                pairs.append((da, db))
    finally:
        a.close()
        b.close()
    return {"pairs": pairs, "errors": errors}


async def measure(url: str, path: str, clients: int, duration: float, warmup: float) -> dict:
    now = time.perf_counter()
    measure_from, stop_at = now + warmup, now + warmup + duration
    latencies: list[float] = []
    errors = await asyncio.gather(
        *[_client(url, path, stop_at, measure_from, latencies) for _ in range(clients)]
    )
    return {"latencies": latencies, "seconds": duration, "errors": sum(errors)}


def summarize(rounds: list[dict]) -> dict:
    latencies = sorted(x for r in rounds for x in r["latencies"])
    q = statistics.quantiles(latencies, n=100, method="inclusive")
    seconds = sum(r["seconds"] for r in rounds)
    return {
        "p50_ms": q[49] * 1000,
        "p99_ms": q[98] * 1000,
        "rps": len(latencies) / seconds,
        "n": len(latencies),
        "errors": sum(r["errors"] for r in rounds),
        "round_p50_ms": [statistics.median(r["latencies"]) * 1000 for r in rounds],
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--project", type=Path, help="an onepipe project with a champion (default: build one)"
    )
    parser.add_argument("--duration", type=float, default=8.0, help="seconds measured per point")
    parser.add_argument("--warmup", type=float, default=0.5)
    parser.add_argument("--rounds", type=int, default=4, help="alternating direct/gateway rounds")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="onepipe-bench-") as tmp:
        project = args.project.resolve() if args.project else None
        if project is None:
            print("building a throwaway project (data put, train, promote)…", file=sys.stderr)
            project = build_project(Path(tmp) / "proj")
        cfg_path = Path(tmp) / "bench.yaml"
        cfg = yaml.safe_load((project / "onepipe.yaml").read_text())
        port = free_port()
        cfg.setdefault("serve", {}).setdefault("gateway", {})["port"] = port
        cfg["serve"]["history_url"] = str(Path(tmp) / "bench-history.db")
        cfg["serve"].setdefault("mlserver", {})["workdir"] = str(Path(tmp) / "serve")
        cfg_path.write_text(yaml.safe_dump(cfg))
        # the project's relative paths must still resolve: run from the project with an absolute config copy
        shutil.copy(cfg_path, project / ".onepipe-bench.yaml")
        proc = subprocess.Popen(
            [sys.executable, "-m", "onepipe", "serve", "-c", str(project / ".onepipe-bench.yaml")],
            cwd=project,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        gateway = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if httpx.get(f"{gateway}/v2/health/ready", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    if proc.poll() is not None:
                        print(proc.stderr.read(), file=sys.stderr)
                        return 1
                time.sleep(0.3)
            # the admin API wants the project's control key (serve.mlserver.workdir/control.key)
            key = (Path(tmp) / "serve" / "control.key").read_text().strip()
            state = httpx.get(
                f"{gateway}/admin/state", headers={"authorization": f"Bearer {key}"}
            ).json()
            direct = state["mlserver"]
            name, version = state["state"]["model"], state["state"]["champion"]
            paths = {
                "direct": (direct, f"/v2/models/{name}-v{version}/infer"),
                "gateway": (gateway, f"/v2/models/{name}/infer"),
            }
            results = {}
            for clients in (1, 16):
                # Alternate short rounds so both sides see the same drift in machine load.
                rounds: dict[str, list[dict]] = {"direct": [], "gateway": []}
                for _ in range(args.rounds):
                    for which in ("direct", "gateway"):
                        url, path = paths[which]
                        rounds[which].append(
                            asyncio.run(
                                measure(
                                    url, path, clients, args.duration / args.rounds, args.warmup
                                )
                            )
                        )
                for which in ("direct", "gateway"):
                    results[(which, clients)] = r = summarize(rounds[which])
                    print(
                        f"{which:<8} clients={clients:<3} p50={r['p50_ms']:7.2f} ms  p99={r['p99_ms']:7.2f} ms  "
                        f"throughput={r['rps']:8.1f} req/s  (n={r['n']}, errors={r['errors']})"
                    )
            pair = asyncio.run(
                paired(paths["direct"], paths["gateway"], args.duration, args.warmup)
            )
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
            (project / ".onepipe-bench.yaml").unlink(missing_ok=True)

    pairs = zip(
        results[("gateway", 1)]["round_p50_ms"], results[("direct", 1)]["round_p50_ms"], strict=True
    )
    per_round = [g - d for g, d in pairs]
    diffs = [(g - d) * 1000 for d, g in pair["pairs"]]
    added = statistics.median(diffs)
    paired_direct = statistics.median(d for d, _ in pair["pairs"]) * 1000
    paired_gateway = statistics.median(g for _, g in pair["pairs"]) * 1000
    added16 = results[("gateway", 16)]["p50_ms"] - results[("direct", 16)]["p50_ms"]
    ratio1 = results[("gateway", 1)]["rps"] / results[("direct", 1)]["rps"]
    ratio16 = results[("gateway", 16)]["rps"] / results[("direct", 16)]["rps"]
    print()
    print(
        f"paired, 1 client alternating request by request ({len(diffs)} pairs, "
        f"errors={pair['errors']}): direct p50 {paired_direct:.2f} ms, gateway p50 "
        f"{paired_gateway:.2f} ms"
    )
    print(
        f"gateway adds {added:+.2f} ms at p50 with 1 client (median of the paired differences; "
        f"target <= 1 ms: {'met' if added <= 1 else 'NOT met'})"
    )
    print(
        f"  for comparison, p50 differences of {len(per_round)} alternating rounds: "
        f"{', '.join(f'{x:+.2f}' for x in per_round)} (MLServer's own drift between rounds)"
    )
    print(f"gateway adds {added16:+.2f} ms at p50 with 16 clients")
    print(
        f"throughput gateway/direct: {ratio1:.2f} at 1 client, {ratio16:.2f} at 16 clients "
        f"(target >= 0.80 at 16: {'met' if ratio16 >= 0.8 else 'NOT met'})"
    )
    print(f"machine: {os.cpu_count()} CPUs shared by the load generator, the gateway and MLServer")
    return 0


if __name__ == "__main__":
    sys.exit(main())
