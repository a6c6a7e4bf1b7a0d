"""Monitoring commands: ``monitor`` (+ ``serve``, ``drift-check``) and ``canary analyze``."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.table import Table

from onepipe.cli.common import ConfigOpt, EnvOpt, JsonOpt, err, out, print_json, resolve
from onepipe.config.secrets import mask

SinceOpt = Annotated[
    str | None,
    typer.Option("--since", help="Window: 30m, 1h, 2d ... (default monitor.window)."),
]

monitor_app = typer.Typer(
    help="Live metrics, drift and alerts per model version.", no_args_is_help=False
)
canary_app = typer.Typer(
    help="Challenger vs champion: promote, rollback or wait.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(monitor_app, name="monitor")
    app.add_typer(canary_app, name="canary")


def _open(settings):
    # lazy: its SQLite store stays off `onepipe --help`
    from onepipe.monitor.store import open_store

    return open_store(settings)


def _fmt(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}{unit}"


def _live_quality(v: dict[str, Any]) -> str:
    """``v1 (regression): rmse 1.234, mae 0.987, r2 0.912 on 240 labelled rows``."""
    metrics = dict(v.get("metrics") or {})
    labelled = int(metrics.pop("labelled", 0))
    head = f"v{v['version']} ({v.get('task') or 'task unknown'}): "
    if not labelled:
        return head + "no feedback yet"
    values = ", ".join(f"{k} {val:.3f}" for k, val in metrics.items())
    return head + f"{values or 'no live metric for its task'} on {labelled} labelled rows"


def _print_status(report: dict[str, Any]) -> None:
    table = Table(title=f"{report['model']} (env {report['env']})", title_justify="left")
    for col in ("version", "role", "requests", "errors", "p50", "p99", "drift"):
        table.add_column(col)
    for v in report["versions"]:
        table.add_row(
            v["version"],
            v["role"],
            str(v.get("requests", 0)),
            f"{v.get('error_rate', 0.0):.1%}",
            _fmt(v.get("latency_p50_ms"), " ms"),
            _fmt(v.get("latency_p99_ms"), " ms"),
            v.get("drift_status", "-"),
        )
    out.print(table)
    # One line per version (the metrics differ per task; a table column would wrap them away).
    out.print("live quality (from feedback):")
    for v in report["versions"]:
        out.print("  " + _live_quality(v), highlight=False)
    for v in report["versions"]:
        if v.get("drift_error"):
            err.print(f"v{v['version']}: {v['drift_error']}")
        drifted = [d for d in v.get("drift", []) if d["status"] in ("warn", "alert")]
        if drifted:
            out.print(f"drift v{v['version']} (vs its training profile):")
            for d in drifted:
                out.print(
                    f"  {d['status']:5} {d['feature']:22} PSI {d['psi']:.3f}  "
                    f"{d['test']} p={d['pvalue']:.2g}  rows {d['rows']}"
                )
    c = report["canary"]
    age = report.get("canary_age_s")
    since = f" (canary routed for {age / 3600:.1f} h)" if age is not None else ""
    out.print(f"canary: {c['verdict']} — {c['reason']}{since}")
    for alert in report["alerts"]:
        out.print(f"[red]ALERT[/] {alert}")


@monitor_app.callback(invoke_without_command=True)
def monitor(
    ctx: typer.Context,
    since: SinceOpt = None,
    no_drift: Annotated[
        bool, typer.Option("--no-drift", help="Skip the drift computation.")
    ] = False,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Per serving version: requests, error rate, p50/p99, live metrics, drift, alerts."""
    if ctx.invoked_subcommand is not None:
        return
    # lazy: the monitor (numpy, pandas, MLflow) stays off `onepipe --help`
    from onepipe.monitor.report import status
    from onepipe.monitor.windows import since_from

    settings = resolve(config, env)
    store = _open(settings)
    try:
        report = status(
            settings, store, since_from(since, settings.monitor.window), with_drift=not no_drift
        )
    finally:
        store.close()
    if json_:
        print_json(report)
    else:
        _print_status(report)


@monitor_app.command("serve")
def serve(
    port: Annotated[int | None, typer.Option("--port", help="Default monitor.port.")] = None,
    host: Annotated[str | None, typer.Option("--host", help="Default monitor.host.")] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """The monitor service alone (cluster path): serve backends' event intakes, /feedback, /metrics, /health."""
    # lazy: the monitor service (Starlette, uvicorn, MLflow) stays off `onepipe --help`
    from onepipe.monitor.service import serve as run

    settings = resolve(config, env)
    err.print(
        f"monitor service for {settings.model_name} on {host or settings.monitor.host}:"
        f"{settings.monitor.port if port is None else port} (store {mask(settings.monitor.store_url)})"
    )
    run(settings, host=host, port=port)


@monitor_app.command("drift-check")
def drift_check(
    since: SinceOpt = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Drift of every serving version vs its training profile; exit 1 on an alert (CronJob)."""
    # lazy: the monitor (numpy, pandas, MLflow) stays off `onepipe --help`
    from onepipe.monitor.report import drift_for_version, last_change
    from onepipe.monitor.windows import since_from

    settings = resolve(config, env)
    change = last_change(settings)
    store = _open(settings)
    try:
        since_ts = since_from(since, settings.monitor.window)
        versions = (
            [v for v in (change.state.champion, change.state.challenger) if v]
            if change
            else sorted(
                {
                    r["model_version"]
                    for r in store.window(model_name=settings.model_name, since=since_ts)
                }
            )
        )
        results = {str(v): drift_for_version(settings, store, str(v), since_ts) for v in versions}
    finally:
        store.close()
    alerting = {v: [d.feature for d in r if d.status == "alert"] for v, r in results.items()}
    alerting = {v: f for v, f in alerting.items() if f}
    if json_:
        print_json(
            {
                "versions": {v: [d.to_dict() for d in r] for v, r in results.items()},
                "alerts": alerting,
            }
        )
    else:
        for v, r in results.items():
            rows = max((d.rows for d in r), default=0)
            worst = max(
                (d.status for d in r), key=["n/a", "ok", "warn", "alert"].index, default="n/a"
            )
            out.print(f"v{v}: {worst} ({rows} rows)")
            for d in r:
                if d.status in ("warn", "alert"):
                    out.print(
                        f"  {d.status:5} {d.feature:22} PSI {d.psi:.3f}  {d.test} p={d.pvalue:.2g}"
                    )
        if not results:
            out.print("no serving version and no logged requests in the window")
    if alerting:
        err.print("drift alert: " + "; ".join(f"v{v}: {', '.join(f)}" for v, f in alerting.items()))
        raise typer.Exit(1)


@canary_app.command("analyze")
def analyze(
    auto: Annotated[
        bool,
        typer.Option("--auto", help="Apply the verdict: promote or rollback through the deployer."),
    ] = False,
    since: SinceOpt = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Challenger vs champion on the same window: promote, rollback or wait, with the numbers."""
    # lazy: the monitor (numpy, pandas, MLflow) and the deployers stay off `onepipe --help`
    from onepipe.app.canary import cycle
    from onepipe.monitor.windows import since_from

    settings = resolve(config, env)
    store = _open(settings)
    try:
        result = cycle(
            settings,
            store,
            since_from(since, settings.monitor.window),
            act=auto,
            source="canary analyze --auto",
        )
    finally:
        store.close()
    verdict, applied = result.verdict, result.applied
    if json_:
        print_json(result.to_dict())
        return
    out.print(f"{verdict.verdict}: {verdict.reason}")
    ev = verdict.evidence
    test = ev.get("loss_test") or {}
    for arm in ("champion", "challenger"):
        s = ev.get(arm)
        if s:
            labelled = (ev.get("labelled") or {}).get(arm, 0)
            loss = test.get(arm)
            quality = f", mean {ev['loss']} {loss['mean']:.4g} ± {loss['se']:.2g}" if loss else ""
            out.print(
                f"  {arm:10} v{s['model_version']}: {s['requests']} requests, errors {s['error_rate']:.1%}, "
                f"p99 {_fmt(s['latency_p99_ms'], ' ms')}, labelled {labelled}{quality}"
            )
    if applied:
        err.print(applied)
    elif auto:
        err.print("--auto: nothing to apply (wait)")
