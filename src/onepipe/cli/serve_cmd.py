"""Serving commands: ``serve``, ``deploy``, ``rollback``, ``history``, ``predict``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from onepipe import plugins
from onepipe.cli.common import ConfigOpt, EnvOpt, JsonOpt, err, out, print_json, resolve

TargetOpt = Annotated[str | None, typer.Option("--target", "-t", help=plugins.target_help("serve"))]
ReasonOpt = Annotated[str, typer.Option("--reason", "-m", help="Why, recorded in the history.")]


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("deploy")(deploy)
    app.command("rollback")(rollback)
    app.command("history")(history)
    app.command("predict")(predict)


def serve(
    port: Annotated[
        int | None, typer.Option("--port", help="Gateway port (default serve.gateway.port).")
    ] = None,
    host: Annotated[
        str | None, typer.Option("--host", help="Gateway host (default serve.gateway.host).")
    ] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Run MLServer + the gateway in the foreground (Ctrl-C stops both), in the last recorded state."""
    # lazy: the gateway's stack (Starlette, uvicorn, the monitor) stays off `onepipe --help`
    from onepipe.app.gateway import run_gateway

    settings = resolve(config, env)
    err.print(f"starting MLServer and the gateway for {settings.model_name} (env {settings.env})…")

    def ready(gateway, state, url: str) -> None:
        err.print(
            f"[green]serving[/] {state.describe()} on {url}  "
            f"(MLServer {gateway.host.url}; POST {url}/predict, {url}/v2/models/{state.model}/infer)"
        )
        err.print("Ctrl-C to stop")

    run_gateway(settings, host=host, port=port, on_ready=ready)
    err.print("stopped")


def _print_change(change, message: str, json_: bool) -> None:
    if json_:
        print_json({**change.to_dict(), "message": message})
        return
    out.print(f"#{change.id} {change.action}: {change.state.describe()}")
    err.print(message)


def deploy(
    canary: Annotated[
        int | None,
        typer.Option(
            "--canary",
            help="Percent of requests for the challenger (default serve.canary).",
            min=0,
            max=100,
        ),
    ] = None,
    shadow: Annotated[
        bool | None,
        typer.Option(
            "--shadow/--no-shadow",
            help="Challenger gets a copy of each request; the champion answers.",
        ),
    ] = None,
    sticky: Annotated[
        bool | None,
        typer.Option(
            "--sticky/--no-sticky", help="Same sticky header value -> same model (A/B tests)."
        ),
    ] = None,
    champion: Annotated[
        str | None,
        typer.Option("--champion", help="Version to serve as champion (default: registry alias)."),
    ] = None,
    challenger: Annotated[
        str | None,
        typer.Option(
            "--challenger", help="Version to serve as challenger (default: registry alias)."
        ),
    ] = None,
    target: TargetOpt = None,
    reason: ReasonOpt = "",
    config: ConfigOpt = None,
    env: EnvOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Route traffic between champion and challenger; swaps only after the models answer ready."""
    # lazy: the deployment history (SQLite) stays off `onepipe --help`
    from onepipe.serve.deployments import deploy as do_deploy

    settings = resolve(config, env)
    change, message = do_deploy(
        settings,
        canary=canary,
        shadow=shadow,
        sticky=sticky,
        champion=champion,
        challenger=challenger,
        target=target,
        reason=reason,
    )
    _print_change(change, message, json_)


def rollback(
    to: Annotated[
        int | None,
        typer.Option(
            "--to", help="History change number to restore (default: the one before the latest)."
        ),
    ] = None,
    target: TargetOpt = None,
    reason: ReasonOpt = "",
    config: ConfigOpt = None,
    env: EnvOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Return to the previous deployment state (or change N); registry aliases follow."""
    # lazy: the deployment history (SQLite) stays off `onepipe --help`
    from onepipe.serve.deployments import rollback as do_rollback

    settings = resolve(config, env)
    change, message = do_rollback(settings, to=to, target=target, reason=reason)
    _print_change(change, message, json_)


def history(
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", help="Newest N changes.", min=1)
    ] = None,
    target: TargetOpt = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Every deployment change: when, who, which versions, which weights, why."""
    # lazy: the deployment history (SQLite) stays off `onepipe --help`
    from onepipe.app.canary import summary
    from onepipe.serve.deployments import history as get_history
    from onepipe.serve.deployments import unfinished

    settings = resolve(config, env)
    changes = get_history(settings, target, limit)
    for intent in unfinished(settings, target):  # not in the history until confirmed
        err.print(
            f"[yellow]not confirmed:[/] {escape(intent.describe())} (running now, or "
            "interrupted: the next deploy, promote, rollback or serve completes or rolls it back)"
        )
    if json_:
        print_json([c.to_dict() for c in changes])
        return
    if not changes:
        err.print(f"no deployment changes recorded for {settings.model_name} (env {settings.env})")
        return
    table = Table(show_edge=False)
    for col in ("#", "time (UTC)", "user", "action", "champion", "challenger", "weights", "reason"):
        table.add_column(col, no_wrap=col != "reason", overflow="fold")
    for c in changes:
        s = c.state
        weights = " / ".join(f"v{v} {w}%" for v, w in s.weights.items())
        if s.shadow:
            weights += " (shadow)"
        elif s.sticky:
            weights += " (sticky)"
        table.add_row(
            str(c.id),
            c.time[:19].replace("T", " "),
            c.user,
            c.action,
            s.champion,
            s.challenger or "-",
            weights,
            summary(c.reason) or "-",  # a canary action's evidence: --json
        )
    out.print(table)


def predict(
    model: Annotated[
        str, typer.Argument(help="NAME@ALIAS or NAME/VERSION, e.g. credit-risk@champion.")
    ],
    data: Annotated[
        str, typer.Argument(help="Data commit to score: REPO, REPO@BRANCH or REPO@COMMIT.")
    ],
    output_repo: Annotated[
        str, typer.Option("--output-repo", "-o", help="Repo for the predictions commit.")
    ] = "predictions",
    config: ConfigOpt = None,
    env: EnvOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Batch-score a data commit with the registry model; write predictions as a new data commit."""
    # lazy: asyncio and httpx stay off `onepipe --help`
    from onepipe.serve.batch import score_commit

    settings = resolve(config, env)
    with err.status(f"scoring {data} with {model}…"):
        result = score_commit(settings, model, data, output_repo=output_repo)
    if json_:
        print_json(result)
        return
    out.print(
        f"{result['output']}: {result['rows']} predictions by {result['model']} "
        f"on {result['input']}"
    )
