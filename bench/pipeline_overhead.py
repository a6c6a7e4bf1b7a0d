"""Pipeline runner overhead: ms per step for a 10-step no-op chain, and the cached demo `onepipe run`.

Everything is measured in this one run, so the ratios compare like with like
on whatever machine runs it. Targets (issue 2): in-process overhead <= 10 ms per
step; the whole cached `onepipe run` of the demo pipeline under 1.5 s.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))  # the throwaway chain project the tests use too

from chain_project import make_chain_project  # noqa: E402

STEPS = 10
REPEAT = 5


def _median_seconds(fn, repeat: int = REPEAT) -> float:
    times = []
    for i in range(repeat):
        t0 = time.perf_counter()
        fn(i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


@contextlib.contextmanager
def _quiet_fds():
    """kfp.local streams every task's executor log to this process's stdout/stderr."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    saved = os.dup(1), os.dup(2)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        os.close(devnull)


def chain_runs(work: Path) -> dict[str, float]:
    from onepipe.config import load_settings
    from onepipe.pipeline.execute import run_pipeline

    root = make_chain_project(work / "chain", STEPS)
    base = load_settings(root / "onepipe.yaml")
    run_pipeline(base, track=False, register=False)  # compile once, import kfp once

    def cold(i: int) -> None:
        s = base.with_params(base=1000 + i)  # a new value at step 1 = every step a miss
        result = run_pipeline(s, track=False, register=False)
        assert result.executed == STEPS

    def cached(i: int) -> None:
        result = run_pipeline(base, track=False, register=False)
        assert result.cache_hits == STEPS

    def cold_tracked(i: int) -> None:
        result = run_pipeline(base.with_params(base=2000 + i), register=False)
        assert result.executed == STEPS

    def kfp_local(i: int) -> None:
        s = base.with_params(base=3000 + i).model_copy(
            update={"backends": base.backends.model_copy(update={"runner": "kfp-local"})}
        )
        result = run_pipeline(s, track=False, register=False)
        assert result.executed == STEPS

    return {
        "inprocess_cold": _median_seconds(cold),
        "inprocess_cached": _median_seconds(cached),
        "inprocess_cold_with_mlflow": _median_seconds(cold_tracked),
        "kfp_local": _quiet(lambda: _median_seconds(kfp_local, repeat=2)),
    }


def _quiet(fn):
    with _quiet_fds():
        return fn()


def demo_cached_run(work: Path) -> dict[str, float]:
    """Wall time of `onepipe run` (a fresh process) when every step of the demo is cached."""
    proj = work / "demo"
    proj.mkdir()
    shutil.copy2(REPO / "onepipe.yaml", proj)
    for folder in ("components", "pipelines", "data"):
        shutil.copytree(REPO / folder, proj / folder, ignore=shutil.ignore_patterns("__pycache__"))
    cmd = [sys.executable, "-m", "onepipe"]
    subprocess.run(
        [*cmd, "data", "put", "loans", "data/loans/batch_1.csv"],
        cwd=proj,
        check=True,
        capture_output=True,
    )
    subprocess.run([*cmd, "run"], cwd=proj, check=True, capture_output=True)  # fill the cache

    def cached(i: int) -> None:
        proc = subprocess.run([*cmd, "run", "--json"], cwd=proj, capture_output=True, text=True)
        assert proc.returncode == 0 and '"executed": 0' in proc.stdout, proc.stderr

    def floor(i: int) -> None:
        subprocess.run([*cmd, "--help"], cwd=proj, check=True, capture_output=True)

    return {"onepipe_run_cached": _median_seconds(cached), "onepipe_help": _median_seconds(floor)}


def main() -> int:
    import argparse

    argparse.ArgumentParser(description=__doc__.splitlines()[0]).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        chain = chain_runs(work)
        demo = demo_cached_run(work)
    per = {k: v / STEPS * 1000 for k, v in chain.items()}
    print(f"10-step no-op chain, median of {REPEAT} (kfp.local: 2) runs, ms per step:")
    print(
        f"  (a) in-process, cold            {per['inprocess_cold']:8.2f} ms/step   (target <= 10)"
    )
    print(
        f"      in-process, cold + MLflow   {per['inprocess_cold_with_mlflow']:8.2f} ms/step   (a child run per step, SQLite)"
    )
    print(f"  (b) in-process, fully cached    {per['inprocess_cached']:8.2f} ms/step")
    print(f"  (c) kfp.local subprocess        {per['kfp_local']:8.2f} ms/step")
    print(
        f"  ratio kfp.local / in-process cold:   {chain['kfp_local'] / chain['inprocess_cold']:8.1f}x"
    )
    print(
        f"  ratio in-process cached / cold:      {chain['inprocess_cached'] / chain['inprocess_cold']:8.2f}x"
    )
    print("demo pipeline, fresh process, all 5 steps cached:")
    print(
        f"  (d) onepipe run                 {demo['onepipe_run_cached']:8.3f} s       (target < 1.5)"
    )
    print(f"      onepipe --help (floor)      {demo['onepipe_help']:8.3f} s")
    print(
        f"  ratio run / --help:                  {demo['onepipe_run_cached'] / demo['onepipe_help']:8.1f}x"
    )
    ok = per["inprocess_cold"] <= 10 and demo["onepipe_run_cached"] < 1.5
    print(f"targets: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
