"""Sweep overhead, measured against a baseline in the same run.

(a) 40 trials of a trivial objective through the local sweeper (a subprocess per
    trial, metric lines parsed from stdout, SQLite study) vs ``optuna.Study.optimize``
    on the same objective in-process: per-trial overhead and the ratio.
(b) a 20-trial sweep of the demo pipeline over a train-only param (learning_rate)
    with the step cache vs the same sweep with ``--no-cache``: wall-time ratio
    (target: cached <= 0.5x uncached).

    .venv/bin/python bench/sweep_overhead.py [--trials-a 40] [--trials-b 20] [--parallel 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

# The trivial trial: reads -p name=value like `onepipe trial`, prints one metric line.
TRIVIAL = """
import sys
vals = dict(a.split("=", 1) for a in sys.argv[1:] if "=" in a and not a.startswith("-"))
x, y = float(vals["learning_rate"]), float(vals["subsample"])
print(f"roc_auc={-(x - 0.1) ** 2 - (y - 0.7) ** 2}")
"""


def objective_value(x: float, y: float) -> float:
    return -((x - 0.1) ** 2) - (y - 0.7) ** 2


def make_project(root: Path, sweep: dict) -> Path:
    from onepipe.config import load_settings
    from onepipe.data import open_store

    root.mkdir(parents=True)
    shutil.copy2(REPO / "onepipe.yaml", root / "onepipe.yaml")
    for folder in ("components", "pipelines"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "data/loans").mkdir(parents=True)
    shutil.copy2(REPO / "data/loans/batch_1.csv", root / "data/loans/batch_1.csv")
    cfg = yaml.safe_load((root / "onepipe.yaml").read_text())
    cfg["sweep"] = sweep
    (root / "onepipe.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    settings = load_settings(root / "onepipe.yaml", user="bench")
    open_store(settings).put("loans", [root / "data/loans/batch_1.csv"], message="batch 1")
    return root


def space(trials: int, parallel: int) -> dict:
    return {
        "objective": {"type": "maximize", "objectiveMetricName": "roc_auc"},
        "algorithm": {"algorithmName": "tpe", "algorithmSettings": {"random_state": 1}},
        "parameters": [
            {
                "name": "learning_rate",
                "parameterType": "double",
                "feasibleSpace": {"min": 0.02, "max": 0.3},
            },
            {
                "name": "subsample",
                "parameterType": "double",
                "feasibleSpace": {"min": 0.5, "max": 1.0},
            },
        ],
        "maxTrialCount": trials,
        "parallelTrialCount": parallel,
        "maxFailedTrialCount": 3,
    }


def bench_a(tmp: Path, trials: int) -> tuple[float, float]:
    import optuna

    from onepipe.config import load_settings
    from onepipe.sweep.optuna_sweeper import OptunaSweeper
    from onepipe.sweep.protocol import SweepOptions

    class NoRegister(OptunaSweeper):
        def _conclude(self, study, parent, listener):  # no model to register for a toy objective
            return self._status(study)

    root = make_project(tmp / "a", space(trials, 1))
    script = tmp / "trivial.py"
    script.write_text(TRIVIAL)
    settings = load_settings(root / "onepipe.yaml", user="bench")
    sweeper = NoRegister(
        settings,
        SweepOptions(name="bench-a", child_env=dict(os.environ)),
        launcher=[sys.executable, str(script)],
    )
    started = time.perf_counter()
    status = sweeper.run()
    local = time.perf_counter() - started
    assert status.counts["Succeeded"] == trials, status.counts

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=1))
    started = time.perf_counter()
    study.optimize(
        lambda t: objective_value(
            t.suggest_float("learning_rate", 0.02, 0.3), t.suggest_float("subsample", 0.5, 1.0)
        ),
        n_trials=trials,
    )
    inproc = time.perf_counter() - started
    return local, inproc


def step_times(root: Path) -> dict:
    """Per-trial seconds from the sweep's MLflow runs: each step executed, and the whole run."""
    from onepipe.config import load_settings
    from onepipe.tracking.client import client_for, experiment_id

    settings = load_settings(root / "onepipe.yaml", user="bench")
    client = client_for(settings)
    exp = [experiment_id(settings)]
    trials = client.search_runs(exp, "tags.`onepipe.kind` = 'pipeline'", max_results=1000)
    steps: dict[str, float] = {}
    for run in client.search_runs(exp, "tags.`onepipe.kind` = 'step'", max_results=5000):
        if run.data.tags.get("onepipe.cache_hit") == "false":
            name = run.data.tags["onepipe.step"]
            steps[name] = steps.get(name, 0.0) + run.data.metrics.get("duration_s", 0.0)
    n = max(len(trials), 1)
    run_s = sum((r.info.end_time - r.info.start_time) / 1000 for r in trials if r.info.end_time)
    return {
        "trials": len(trials),
        "run_s": run_s / n,
        "steps": {k: v / n for k, v in steps.items()},
    }


def bench_b(tmp: Path, trials: int, parallel: int) -> tuple[float, float, dict, dict]:
    from onepipe.cli.main import main

    sweep = space(trials, parallel)
    sweep["parameters"] = sweep["parameters"][
        :1
    ]  # learning_rate: only the train step depends on it
    times, roots = [], []
    for label, extra in (("cached", []), ("uncached", ["--no-cache"])):
        root = make_project(tmp / f"b-{label}", sweep)
        os.chdir(root)
        # Both start from an empty cache: the cached sweep pays the upstream steps once.
        started = time.perf_counter()
        code = main(["sweep", *extra, "-p", "n_estimators=40"])
        times.append(time.perf_counter() - started)
        assert code == 0, f"{label} sweep failed"
        os.chdir(REPO)
        roots.append(root)
    return times[0], times[1], step_times(roots[0]), step_times(roots[1])


def report_steps(hot: dict, cold: dict, uncached: float, trials: int, parallel: int) -> None:
    """Where a trial's time goes, and so what any step cache could save on this workload."""
    upstream = [k for k in cold["steps"] if k not in ("train", "evaluate")]
    skippable = sum(cold["steps"][k] for k in upstream)
    trial_wall = uncached * parallel / trials  # a trial process, start to exit
    print("    per trial, uncached sweep (seconds; from the trials' MLflow runs):")
    for name, secs in cold["steps"].items():
        print(f"      {name:<10} {secs:6.2f}  {'(cacheable)' if name in upstream else ''}")
    print(f"      pipeline run {cold['run_s']:6.2f}  (steps + tracking)")
    print(f"      trial process {trial_wall:5.2f}  (+ interpreter start, imports, model logging)")
    executed = ", ".join(f"{k} {v:.2f}" for k, v in hot["steps"].items())
    print(f"    per trial, cached sweep: steps executed {executed}")
    floor = max(trial_wall - skippable, 0.0) / trial_wall if trial_wall else 0.0
    print(
        f"    the cacheable steps are {skippable:.2f} s of a {trial_wall:.2f} s trial: skipping "
        f"them entirely bounds the ratio at >= {floor:.2f} for this pipeline and data"
    )
    all_steps = sum(cold["steps"].values())
    if all_steps:
        print(
            f"    even with no process, import or tracking cost at all, the ratio is >= "
            f"{(all_steps - skippable) / all_steps:.2f} (train + evaluate / all steps)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials-a", type=int, default=40)
    parser.add_argument("--trials-b", type=int, default=20)
    parser.add_argument("--parallel", type=int, default=2)
    parser.add_argument("--skip-b", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp_name:
        tmp = Path(tmp_name)
        local, inproc = bench_a(tmp, args.trials_a)
        n = args.trials_a
        print(f"(a) {n} trials, trivial objective, 1 at a time")
        print(
            f"    local sweeper (subprocess per trial): {local:8.2f} s  {local / n * 1000:8.1f} ms/trial"
        )
        print(
            f"    optuna.Study.optimize in-process:     {inproc:8.2f} s  {inproc / n * 1000:8.1f} ms/trial"
        )
        print(
            f"    overhead per trial: {(local - inproc) / n * 1000:.1f} ms; ratio {local / inproc:.1f}x"
        )
        if not args.skip_b:
            cached, uncached, hot, cold = bench_b(tmp, args.trials_b, args.parallel)
            ratio = cached / uncached
            print(
                f"(b) {args.trials_b}-trial pipeline sweep over learning_rate, {args.parallel} parallel"
            )
            print(f"    with step cache: {cached:8.2f} s")
            print(f"    --no-cache:      {uncached:8.2f} s")
            print(
                f"    ratio cached/uncached: {ratio:.2f} (target <= 0.50: "
                f"{'met' if ratio <= 0.5 else 'NOT met'})"
            )
            report_steps(hot, cold, uncached, args.trials_b, args.parallel)


if __name__ == "__main__":
    main()
