"""``onepipe demo`` (``make demo``): the whole loop on any project, on embedded defaults.

data batch -> local data store -> pipeline (live progress) -> MLflow run with lineage
-> registered model -> champion -> identical rerun, all cache hits -> lineage; then
serving, live traffic with feedback, a shifted batch, the drift check, retraining,
a 10% canary, the verdict acted on, and the report. Each stage prints the CLI
command that does the same thing.

What it needs from the project: the data batches as CSV files in ``data/<repo>/``
(``<repo>`` the data repo the pipeline's data-ref param names, at least two
files; the first is committed first, the last is treated as the shifted batch)
and the truth column (``model.label``, or the label the model recorded).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.rule import Rule

from onepipe.app.background import BackgroundGateway
from onepipe.cli.common import ConfigOpt, resolve
from onepipe.cli.model_cmd import lineage
from onepipe.cli.progress import StepProgress, print_summary
from onepipe.data import open_store
from onepipe.errors import NotFoundError, OnepipeError, UsageError
from onepipe.serve.models import served_model
from onepipe.tracking.client import client_for
from onepipe.tracking.modelfacts import TAGS
from onepipe.tracking.registry import promote, resolve_model

if TYPE_CHECKING:
    from onepipe.config import Settings

console = Console(stderr=True, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    config: ConfigOpt = None,
    requests: Annotated[int, typer.Option("--requests", help="Canary-phase requests.")] = 600,
    rows: Annotated[int, typer.Option("--rows", help="Rows per request.")] = 20,
    foundation_only: Annotated[
        bool, typer.Option("--foundation-only", help="Data, run, promote, rerun, lineage only.")
    ] = False,
) -> None:
    """Play onepipe's whole loop on this project (what `make demo` runs)."""
    settings = resolve(config)
    console.print(f"[bold]{settings.project}[/]: the whole loop, on embedded defaults")
    code = play(settings, loop=not foundation_only, requests=requests, rows=rows)
    if code:
        raise typer.Exit(code)


@dataclass(frozen=True)
class DemoData:
    repo: str
    batches: list[Path]  # sorted; [0] committed first, [-1] the shifted one

    @property
    def first(self) -> Path:
        return self.batches[0]

    @property
    def live(self) -> Path:
        """Traffic before the shift: the second batch (the first when there are only two)."""
        return self.batches[1] if len(self.batches) > 2 else self.batches[0]

    @property
    def shifted(self) -> Path:
        return self.batches[-1]


def demo_data(settings: Settings) -> DemoData:
    # lazy: the monitor (numpy, pandas, MLflow) stays off `onepipe --help`
    from onepipe.monitor.watch import watched_param

    _, repo = watched_param(settings)
    folder = settings.root / "data" / repo
    batches = sorted(folder.glob("*.csv"))
    if len(batches) < 2:
        raise UsageError(
            f"demo: {len(batches)} CSV batch(es) in {folder} (expected at least two: the first "
            "is committed first, the last plays the shifted batch)"
        )
    return DemoData(repo, batches)


def _ports_free(settings: Settings) -> None:
    """Refuse a taken serving port before anything runs, not after training (stage 6)."""
    # lazy: serve.ports brings asyncio and httpx; `onepipe --help` loads this module
    from onepipe.serve.ports import check_mlserver_port, claim_gateway_port

    gateway = settings.serve.gateway
    claim_gateway_port(gateway.host, gateway.port).close()
    check_mlserver_port(settings.serve.mlserver.port, gateway_port=gateway.port)


def _say(command: str, why: str) -> None:
    console.print()
    console.print(Rule(why, align="left"))
    console.print(f"[dim]$[/] [bold]{command}[/]")


def _rel(settings: Settings, path: Path) -> str:
    return str(path.relative_to(settings.root))


def _commit(settings: Settings, data: DemoData, batch: Path, message: str) -> str:
    """Commit ``batch`` unless the branch head already holds exactly these bytes."""
    store = open_store(settings)
    try:
        head = store.resolve(f"{data.repo}@{settings.data.default_branch}")
        have = {f.path: f.hash for f in head.files}
    except NotFoundError:
        head, have = None, {}
    if head is not None and have.get(batch.name) == hashlib.sha256(batch.read_bytes()).hexdigest():
        console.print(f"already committed: {head.repo}@{head.short} holds {batch.name}")
        return head.ref
    commit = store.put(data.repo, [batch], message=message)
    console.print(
        f"committed {commit.repo}@{commit.short} ({', '.join(f.path for f in commit.files)})"
    )
    return commit.ref


def play(settings: Settings, *, loop: bool = True, requests: int = 600, rows: int = 20) -> int:
    """The demo on ``settings``' project, its wall time said last; returns the exit code."""
    started = time.perf_counter()
    code = _play(settings, loop=loop, requests=requests, rows=rows)
    outcome = "done" if code == 0 else f"stopped (exit {code})"
    console.print(f"demo {outcome} in {time.perf_counter() - started:.1f} s (wall time)")
    return code


def _play(settings: Settings, *, loop: bool, requests: int, rows: int) -> int:
    # lazy: the pipeline runner stays off `onepipe --help`
    from onepipe.pipeline.execute import run_pipeline

    try:
        data = demo_data(settings)
        if loop:
            _ports_free(settings)
        first = _rel(settings, data.first)
        _say(f"onepipe data put {data.repo} {first}", "1. a first data batch lands in the store")
        _commit(settings, data, data.first, "the first batch")

        _say("onepipe run", "2. the pipeline runs, tracked in MLflow, model registered")
        run = run_pipeline(settings, listener=StepProgress(console), command="onepipe run")
        print_summary(console, run, settings)

        _say("onepipe promote", "3. the new model becomes champion")
        ref, previous = promote(settings, settings.model_name, run.model_version)
        console.print(
            f"{ref.name}: champion -> version {ref.version}"
            + (f" (was {previous})" if previous else "")
        )

        _say("onepipe run", "4. an identical rerun: every step is a cache hit")
        again = run_pipeline(settings, listener=StepProgress(console), command="onepipe run")
        print_summary(console, again, settings)
        if again.executed:
            console.print(f"[red]expected no step to execute, {again.executed} did[/]")
            return 1

        _say(f"onepipe lineage {settings.model_name}@champion", "5. where the champion came from")
        lineage(f"{settings.model_name}@champion", config=settings.config_file)
        if not loop:
            return 0
        return run_loop(settings, data, requests=requests, rows=rows)
    except OnepipeError as exc:
        console.print(f"error: {exc}")
        return exc.exit_code


# ---------------------------------------------------------------- the loop (stages 6-14)


@dataclass(frozen=True)
class Traffic:
    """What a request carries: the served model's input columns; what feedback carries: the label."""

    columns: list[str]
    label: str

    @classmethod
    def for_champion(cls, settings: Settings) -> Traffic:
        ref = resolve_model(settings, f"{settings.model_name}@champion")
        columns = [c.name for c in served_model(settings, ref).columns]
        label = settings.model.label
        if label is None:
            tags = client_for(settings).get_model_version(ref.name, ref.version).tags or {}
            label = tags.get(TAGS["label"])
        if not label:
            raise UsageError(
                "demo: no truth column to send as feedback (expected model.label in "
                "onepipe.yaml, or a model saved with onepipe.steps.save_model(label=...))"
            )
        return cls(columns, label)

    def send(
        self, serving: BackgroundGateway, batch: Path, requests: int, rows: int, seed: int
    ) -> dict[str, int]:
        """``requests`` POST /predict of ``rows`` rows drawn from ``batch``, each followed by
        its truth on POST /feedback. Returns requests per answering version."""
        # lazy: httpx, numpy and pandas stay off `onepipe --help`
        import httpx
        import numpy as np
        import pandas as pd

        frame = pd.read_csv(batch)
        missing = [c for c in (*self.columns, self.label) if c not in frame]
        if missing:
            raise UsageError(f"demo: {batch.name} lacks columns the model needs: {missing}")
        truth = frame[self.label].to_numpy()
        records = frame[self.columns].to_dict(orient="records")
        rng = np.random.default_rng(seed)
        per_version: dict[str, int] = {}
        answered: list[tuple[str, list]] = []
        with httpx.Client(base_url=serving.url, timeout=60) as client:
            for _ in range(requests):
                index = rng.choice(len(records), size=min(rows, len(records)), replace=False)
                resp = client.post("/predict", json={"instances": [records[i] for i in index]})
                if resp.status_code != 200:
                    raise OnepipeError(
                        f"demo traffic: /predict answered {resp.status_code}: {resp.text[:200]}"
                    )
                body = resp.json()
                version = str(body["model_version"])
                per_version[version] = per_version.get(version, 0) + 1
                answered.append((body["id"], truth[index].tolist()))
            serving.flush()  # the log is written off the request path: let it land first
            for request_id, values in answered:  # the truth arrives later, per request id
                fb = client.post("/feedback", json={"request_id": request_id, "truth": values})
                if fb.status_code != 200:
                    raise OnepipeError(f"demo feedback: answered {fb.status_code}: {fb.text[:200]}")
        return per_version


def _show_monitor(settings: Settings) -> None:
    # lazy: the monitor (numpy, pandas, MLflow, its SQLite store) stays off `onepipe --help`
    from onepipe.monitor.report import status
    from onepipe.monitor.store import open_store as open_predictions
    from onepipe.monitor.windows import since_from

    store = open_predictions(settings)
    try:
        report = status(
            settings, store, since_from(None, settings.monitor.window), with_drift=False
        )
    finally:
        store.close()
    for v in report["versions"]:
        metrics = dict(v.get("metrics") or {})
        labelled = int(metrics.pop("labelled", 0))
        quality = (
            ", ".join(f"{k} {val:.3f}" for k, val in metrics.items()) + f" on {labelled} rows"
            if metrics
            else "no feedback"
        )
        p99 = v.get("latency_p99_ms")
        latency = f"p99 {p99:.1f} ms, " if p99 is not None else ""
        console.print(
            f"  v{v['version']} ({v['role']}): {v.get('requests', 0)} requests, {latency}{quality}"
        )


def run_loop(settings: Settings, data: DemoData, *, requests: int = 600, rows: int = 20) -> int:
    """Serve the champion, live traffic with feedback, drift, retrain, canary, verdict, report."""
    # lazy: the monitor (numpy, pandas, MLflow) and the deployment history (SQLite) stay
    # off `onepipe --help`
    from onepipe.app.canary import apply_verdict
    from onepipe.monitor.html_report import write_report
    from onepipe.monitor.report import analyze_canary
    from onepipe.monitor.store import open_store as open_predictions
    from onepipe.monitor.watch import check_once, drift_alerts
    from onepipe.monitor.windows import since_from
    from onepipe.serve import deployments

    warmup = max(requests // 4, 60)
    traffic = Traffic.for_champion(settings)
    _say("onepipe serve", "6. serve the champion: gateway + MLServer, every request logged")
    serving = BackgroundGateway(settings).start()
    try:
        table = serving.gateway.table
        console.print(
            f"gateway on {serving.url} (MLServer behind it), state: "
            f"{table.state.describe() if table else '-'}"
        )

        live, shifted = data.live.name, data.shifted.name
        _say(
            f"curl -X POST {serving.url}/predict ...; curl -X POST {serving.url}/feedback ...",
            f"7. live traffic: {warmup} requests of {rows} rows from {live}, truths as feedback",
        )
        console.print(f"answered by: {traffic.send(serving, data.live, warmup, rows, 2)}")
        console.print("[dim]$[/] [bold]onepipe monitor[/]")
        _show_monitor(settings)

        _say(
            f"onepipe data put {data.repo} {_rel(settings, data.shifted)}",
            "8. a shifted batch arrives",
        )
        _commit(settings, data, data.shifted, f"{shifted}: a new batch")
        console.print(f"its rows reach the model: {warmup} requests from {shifted}")
        traffic.send(serving, data.shifted, warmup, rows, 4)

        _say("onepipe monitor drift-check", "9. the drift check compares live inputs to training")
        alerts = drift_alerts(settings)
        for version, features in alerts.items():
            console.print(f"[red]drift alert[/] v{version}: {', '.join(features)}")
        if not alerts:
            console.print("no drift alert in this window")

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
        for r in range(9):  # rounds of requests // 3 until the verdict decides
            n = max(requests // 3, 1)
            _say(
                "onepipe canary analyze",
                f"12.{r + 1} traffic with feedback ({n} requests from {shifted}), then the analysis",
            )
            console.print(f"answered by: {traffic.send(serving, data.shifted, n, rows, 40 + r)}")
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
                f"no decision ({verdict.reason if verdict else '-'}): #{change.id} rollback, "
                f"{change.state.describe()}"
            )

        report_path = settings.state_dir / "report.html"
        _say(
            f"onepipe report -o {_rel(settings, report_path)}",
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
