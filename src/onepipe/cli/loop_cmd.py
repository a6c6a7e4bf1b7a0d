"""The retraining loop's commands: ``onepipe watch`` and ``onepipe report``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from onepipe.cli.common import (
    ConfigOpt,
    EnvOpt,
    JsonOpt,
    ParamOpt,
    VariantOpt,
    err,
    out,
    print_json,
    resolve,
)
from onepipe.cli.progress import StepProgress


def register(app: typer.Typer) -> None:
    app.command("watch")(watch)
    app.command("report")(report)


def _print_result(result, json_: bool) -> None:
    if json_:
        print_json(result.to_dict())
        return
    if result.action == "none":
        out.print(f"nothing to do: {result.reason}")
        return
    out.print(f"trigger: {result.trigger} ({result.reason})")
    if result.action == "failed":
        err.print(f"[red]retraining failed[/]: {result.error}")
        return
    how = "new version, alias challenger" if result.model_is_new else "identical to an existing one"
    metrics = ", ".join(f"{k}={v:.4f}" for k, v in sorted(result.metrics.items()))
    out.print(
        f"retrained on {result.repo}@{(result.head or '')[:12]}: "
        f"model v{result.model_version} ({how}); run {result.run_id or '-'}"
        + (f"; {metrics}" if metrics else "")
    )


def watch(
    once: Annotated[
        bool, typer.Option("--once", help="Check once and exit (CronJob, tests).")
    ] = False,
    interval: Annotated[
        float, typer.Option("--interval", help="Seconds between checks.", min=0.1)
    ] = 10.0,
    branch: Annotated[
        str | None, typer.Option("--branch", help="Watched branch (default data.default_branch).")
    ] = None,
    repo: Annotated[
        str | None, typer.Option("--repo", help="Watched data repo (default: the pipeline's).")
    ] = None,
    no_drift: Annotated[
        bool, typer.Option("--no-drift", help="Only new commits trigger, not drift alerts.")
    ] = False,
    since: Annotated[
        str | None, typer.Option("--since", help="Drift window (default monitor.window).")
    ] = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    param: ParamOpt = None,
) -> None:
    """Retrain (the same pipeline) on a new data commit or a drift alert; the result is challenger."""
    # lazy: the monitor and the pipeline runner (numpy, pandas, MLflow) stay off `onepipe --help`
    from onepipe.monitor.watch import check_once
    from onepipe.monitor.windows import parse_duration

    settings = resolve(config, env, variant, param)
    window = parse_duration(since) if since is not None else None
    kw = {
        "branch": branch,
        "repo": repo,
        "use_drift": not no_drift,
        "listener": StepProgress(err),
        "command": "onepipe watch" + (" --once" if once else ""),
    }
    if once:
        result = check_once(settings, since=None if window is None else time.time() - window, **kw)
        _print_result(result, json_)
        raise typer.Exit(result.exit_code)
    err.print(
        f"watching {branch or settings.data.default_branch} every {interval:g}s "
        f"(drift: {'off' if no_drift else 'on'}); Ctrl-C to stop"
    )
    while True:
        result = check_once(settings, since=None if window is None else time.time() - window, **kw)
        if result.action != "none" or json_:
            _print_result(result, json_)
        time.sleep(interval)


def report(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the HTML file.")
    ] = Path("report.html"),
    since: Annotated[
        str | None, typer.Option("--since", help="Window: 30m, 1h, 2d ... (default 24h).")
    ] = None,
    json_: JsonOpt = False,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """One self-contained HTML file: quality and latency over time, drift, canary, lineage."""
    # lazy: the report (numpy, pandas, MLflow) stays off `onepipe --help`
    from onepipe.monitor.html_report import write_report
    from onepipe.monitor.windows import since_from

    settings = resolve(config, env)
    path, summary = write_report(settings, output, since=since_from(since, "24h"))
    if json_:
        print_json({"path": str(path), **summary})
    else:
        out.print(
            f"wrote {path} ({path.stat().st_size // 1024} KiB, {summary['plots']} plots, "
            f"versions {', '.join(summary['versions']) or 'none'}); open it in a browser"
        )
