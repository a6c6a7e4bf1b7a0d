"""``make demo``: the foundation loop end to end on embedded defaults.

data batch -> local data store -> pipeline (live progress) -> MLflow run with
lineage -> registered model -> champion -> identical rerun, all cache hits.
Each stage prints the CLI command that does the same thing.
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.rule import Rule

from onepipe.cli.progress import StepProgress, print_summary
from onepipe.config import load_settings
from onepipe.errors import OnepipeError
from onepipe.serve.background import BackgroundGateway

console = Console(stderr=True, highlight=False)
FIRST_BATCH = Path("data/loans/batch_1.csv")


def _say(command: str, why: str) -> None:
    console.print()
    console.print(Rule(why, align="left"))
    console.print(f"[dim]$[/] [bold]{command}[/]")


def _commit_first_batch(settings) -> str:
    from onepipe.data import open_store
    from onepipe.errors import NotFoundError

    store = open_store(settings)
    batch = settings.root / FIRST_BATCH
    try:
        head = store.resolve(f"loans@{settings.data.default_branch}")
        have = {f.path: f.hash for f in head.files}
    except NotFoundError:
        head, have = None, {}
    import hashlib

    digest = hashlib.sha256(batch.read_bytes()).hexdigest()
    if head is not None and have.get(batch.name) == digest:
        console.print(f"already committed: {head.repo}@{head.short} holds {batch.name}")
        return head.ref
    commit = store.put("loans", [batch], message="first batch of loan applications")
    console.print(
        f"committed {commit.repo}@{commit.short} ({len(commit.files)} file, content-addressed)"
    )
    return commit.ref


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="python -m onepipe.demo", description=__doc__)
    parser.add_argument("--requests", type=int, default=600, help="canary-phase requests")
    parser.add_argument("--rows", type=int, default=20, help="rows per request")
    parser.add_argument("--foundation-only", action="store_true", help="stages 1-5 only")
    args = parser.parse_args(argv)
    return _main(not args.foundation_only, args.requests, args.rows)


def _main(loop: bool, requests: int, rows: int) -> int:
    from onepipe.cli.common import current_user
    from onepipe.pipeline.execute import run_pipeline
    from onepipe.tracking.registry import promote

    try:
        settings = load_settings(user=current_user())
        _say(
            f"onepipe data put loans {FIRST_BATCH}", "1. a first data batch lands in the data store"
        )
        _commit_first_batch(settings)

        _say("onepipe run", "2. the pipeline runs, tracked in MLflow, model registered")
        first = run_pipeline(settings, listener=StepProgress(console), command="onepipe run")
        print_summary(console, first, settings)

        _say("onepipe promote", "3. the new model becomes champion")
        ref, previous = promote(settings, settings.model_name, first.model_version)
        console.print(
            f"{ref.name}: champion -> version {ref.version}"
            + (f" (was {previous})" if previous else "")
        )

        _say("onepipe run", "4. an identical rerun: every step is a cache hit")
        second = run_pipeline(settings, listener=StepProgress(console), command="onepipe run")
        print_summary(console, second, settings)
        if second.executed:
            console.print(f"[red]expected no step to execute, {second.executed} did[/]")
            return 1

        _say(f"onepipe lineage {settings.model_name}@champion", "5. where the champion came from")
        from onepipe.cli.model_cmd import lineage

        lineage(f"{settings.model_name}@champion", config=settings.config_file)
        if not loop:
            return 0
        return run_loop(settings, requests=requests, rows=rows)
    except OnepipeError as exc:
        console.print(f"error: {exc}")
        return exc.exit_code


# ---------------------------------------------------------------- the loop (stages 6-14)


def _traffic(serving: BackgroundGateway, batch: Path, requests: int, rows: int, seed: int) -> dict:
    """``requests`` POST /predict of ``rows`` rows drawn from ``batch``, each followed by its
    ground truth on POST /feedback. Returns requests per answering version."""
    import httpx
    import numpy as np
    import pandas as pd

    df = pd.read_csv(batch)
    labels = df.pop("default").astype(int).to_numpy()
    features = df.drop(columns=["application_id"]).to_dict(orient="records")
    rng = np.random.default_rng(seed)
    per_version: dict[str, int] = {}
    answered: list[tuple[str, list[int]]] = []
    with httpx.Client(base_url=serving.url, timeout=60) as client:
        for _ in range(requests):
            idx = rng.choice(len(features), size=rows, replace=False)
            resp = client.post("/predict", json={"instances": [features[i] for i in idx]})
            if resp.status_code != 200:
                raise OnepipeError(
                    f"demo traffic: /predict answered {resp.status_code}: {resp.text[:200]}"
                )
            body = resp.json()
            version = str(body["model_version"])
            per_version[version] = per_version.get(version, 0) + 1
            answered.append((body["id"], labels[idx].tolist()))
        serving.flush()  # the log is written off the request path: let it land first
        for request_id, truth in answered:  # ground truth arrives later, per request id
            fb = client.post("/feedback", json={"request_id": request_id, "truth": truth})
            if fb.status_code != 200:
                raise OnepipeError(f"demo feedback: answered {fb.status_code}: {fb.text[:200]}")
    return per_version


def _put_batch(settings, name: str) -> str:
    from onepipe.data import open_store

    store = open_store(settings)
    path = settings.root / "data" / "loans" / name
    commit = store.put("loans", [path], message=f"{name}: a new month of loan applications")
    console.print(
        f"committed {commit.repo}@{commit.short} ({', '.join(f.path for f in commit.files)})"
    )
    return commit.ref


def _show_monitor(settings) -> None:
    from onepipe.monitor.report import status
    from onepipe.monitor.store import open_store
    from onepipe.monitor.windows import since_from

    store = open_store(settings)
    try:
        report = status(
            settings, store, since_from(None, settings.monitor.window), with_drift=False
        )
    finally:
        store.close()
    for v in report["versions"]:
        m = v.get("metrics") or {}
        acc = (
            f"accuracy {m['accuracy']:.3f} on {int(m.get('labelled', 0))} labelled rows"
            if "accuracy" in m
            else "no feedback"
        )
        p99 = v.get("latency_p99_ms")
        console.print(
            f"  v{v['version']} ({v['role']}): {v.get('requests', 0)} requests, "
            f"p99 {p99:.1f} ms, {acc}"
            if p99 is not None
            else f"  v{v['version']} ({v['role']}): {acc}"
        )


def run_loop(settings, *, requests: int = 600, rows: int = 20) -> int:
    """Serve the champion, live traffic with feedback, drift, retrain, canary, verdict, report."""
    from onepipe.cli.monitor_cmd import apply_verdict
    from onepipe.monitor.html_report import write_report
    from onepipe.monitor.report import analyze_canary
    from onepipe.monitor.store import open_store as open_predictions
    from onepipe.monitor.watch import check_once, drift_alerts
    from onepipe.monitor.windows import since_from
    from onepipe.serve import deployments

    data = settings.root / "data" / "loans"
    warmup = max(requests // 4, 60)
    _say("onepipe serve", "6. serve the champion: gateway + MLServer, every request logged")
    serving = BackgroundGateway(settings).start()
    try:
        console.print(
            f"gateway on {serving.url} (MLServer behind it), state: {serving.gateway.table.state.describe() if serving.gateway.table else '-'}"
        )

        _say(
            f"curl -X POST {serving.url}/predict ...; curl -X POST {serving.url}/feedback ...",
            f"7. live traffic: {warmup} requests of {rows} rows from batch 2, labels as feedback",
        )
        console.print(f"answered by: {_traffic(serving, data / 'batch_2.csv', warmup, rows, 2)}")
        console.print("[dim]$[/] [bold]onepipe monitor[/]")
        _show_monitor(settings)

        _say(
            "onepipe data put loans data/loans/batch_4.csv",
            "8. a drifted batch arrives (the economy turned)",
        )
        _put_batch(settings, "batch_4.csv")
        console.print(f"its applicants reach the model: {warmup} requests from batch 4")
        _traffic(serving, data / "batch_4.csv", warmup, rows, 4)

        _say("onepipe monitor drift-check", "9. the drift check raises an alert")
        alerts = drift_alerts(settings)
        for version, features in alerts.items():
            console.print(f"[red]drift alert[/] v{version}: {', '.join(features)}")
        if not alerts:
            console.print("no drift alert (unexpected on batch 4)")

        _say("onepipe watch --once", "10. retrain on the new data commit: the result is challenger")
        result = check_once(settings, listener=StepProgress(console))
        console.print(f"trigger: {result.trigger} — {result.reason}")
        if result.action != "retrained":
            console.print(f"[red]watch: {result.action}[/] {result.error or ''}")
            return 1
        console.print(
            f"model: {settings.model_name}/{result.model_version} (challenger), metrics "
            + ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
        )

        _say("onepipe deploy --canary 10", "11. the challenger takes 10% of live traffic")
        change, message = deployments.deploy(
            settings, canary=10, reason="demo: canary after retraining"
        )
        console.print(f"#{change.id} deploy: {change.state.describe()} ({message})")

        verdict = None
        # rounds of requests // 3 until the verdict decides, at most 3x the budget
        rounds = 9
        for r in range(rounds):
            n = max(requests // 3, 1)
            _say(
                "onepipe canary analyze",
                f"12.{r + 1} traffic with feedback ({n} requests from batch 4), then the analysis",
            )
            console.print(
                f"answered by: {_traffic(serving, data / 'batch_4.csv', n, rows, 40 + r)}"
            )
            store = open_predictions(settings)
            try:
                verdict = analyze_canary(
                    settings, store, since=since_from(None, settings.monitor.window)
                )
            finally:
                store.close()
            console.print(f"{verdict.verdict}: {verdict.reason}")
            if verdict.verdict != "wait":
                break

        _say("onepipe canary analyze --auto", "13. act on the verdict: promote or roll back")
        if verdict is not None and verdict.verdict in ("promote", "rollback"):
            console.print(apply_verdict(settings, verdict))
        else:
            change, message = deployments.rollback(
                settings,
                reason="demo: no decision after the canary traffic, the champion keeps serving",
            )
            console.print(
                f"no decision ({verdict.reason if verdict else '-'}): #{change.id} rollback, {change.state.describe()}"
            )

        report_path = settings.state_dir / "report.html"
        _say(
            f"onepipe report -o {report_path.relative_to(settings.root)}",
            "14. the report: one HTML file, open it in a browser",
        )
        path, summary = write_report(settings, report_path, since=since_from(None, "24h"))
        console.print(
            f"wrote {path} ({summary['plots']} plots, versions {', '.join(summary['versions'])})"
        )
    finally:
        console.print("[dim]stopping the gateway and MLServer…[/]")
        serving.stop()
    console.print()
    console.print(
        "Next: [bold]onepipe ui[/] (MLflow UI on http://127.0.0.1:5000), "
        f"[bold]onepipe lineage {settings.model_name}@champion[/], open .onepipe/report.html"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
