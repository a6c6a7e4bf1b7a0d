"""Team commands: ``onepipe server`` and ``onepipe promote --from ENV --to ENV``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

from onepipe.cli.common import err, out, print_json, resolve


def register(app: typer.Typer) -> None:
    app.command("server")(server)


def server(
    port: Annotated[int, typer.Option("--port", help="MLflow tracking server port.")] = 5000,
    data_dir: Annotated[
        Path, typer.Option("--data-dir", help="PostgreSQL data, artifacts and logs (persist).")
    ] = Path(".onepipe/server"),
    host: Annotated[
        str, typer.Option("--host", help="Address MLflow and PostgreSQL listen on.")
    ] = "127.0.0.1",
    pg_port: Annotated[
        int, typer.Option("--pg-port", help="PostgreSQL port (default: remembered, else free).")
    ] = 0,
    workers: Annotated[int, typer.Option("--workers", help="MLflow server workers.")] = 2,
    user: Annotated[
        list[str] | None,
        typer.Option(
            "--user", help="A teammate's MLflow login (repeat); writes <data-dir>/users/NAME.env."
        ),
    ] = None,
) -> None:
    """Shared MLflow tracking server on a real PostgreSQL (+ history and prediction store)."""
    # lazy: the team server (httpx, werkzeug, PostgreSQL helpers) stays off `onepipe --help`
    from onepipe.team.server import TeamServer

    srv = TeamServer(
        data_dir,
        host=host,
        port=port,
        pg_port=pg_port,
        workers=workers,
        users=tuple(user or ()),
        environ=dict(os.environ),
    )
    err.print(f"starting PostgreSQL and mlflow server in {data_dir} ...")
    srv.start()
    out.print(
        f"onepipe server ready: tracking {srv.tracking_uri}, PostgreSQL {srv.store_url}",
        soft_wrap=True,
    )
    out.print("teammates put this in onepipe.yaml (or an environment overlay):")
    out.print(
        yaml.safe_dump(srv.settings_for_teammates(), sort_keys=False).rstrip(), soft_wrap=True
    )
    out.print(
        "and load their credentials (owner-only files: hand each to its user) with "
        "`set -a; . FILE; set +a`:",
        soft_wrap=True,
    )
    for name, path in srv.logins.items():
        out.print(f"  {name}: {path}", soft_wrap=True)
    out.print("Ctrl-C stops both.", soft_wrap=True)
    sys.stdout.flush()
    rc = srv.wait()
    err.print("stopped mlflow server and PostgreSQL")
    if rc:
        raise typer.Exit(1)


def promote_between_envs(
    model: str | None,
    version: str | None,
    from_env: str,
    to_env: str,
    reason: str,
    config: Path | None,
    json_: bool,
    force: bool = False,
) -> None:
    """``onepipe promote --from A --to B``: called by ``model_cmd.promote``.

    The target's promotion gates decide first (docs/teams.md): a refusal prints its
    summary, then one line per failed gate with its figures, and exits 1.
    """
    # lazy: MLflow, the models the gates score and the deployment history stay off `onepipe --help`
    from onepipe.team.gates import PromotionRefused
    from onepipe.team.promote import promote_between

    src = resolve(config, from_env)
    dst = resolve(config, to_env)
    try:
        done = promote_between(src, dst, name=model, version=version, reason=reason, force=force)
    except PromotionRefused as refused:
        if json_:
            print_json(
                {"promoted": False, "refused": refused.headline, "gates": refused.report.to_dicts()}
            )
        err.print(refused.headline, soft_wrap=True, markup=False, highlight=False)
        for result in refused.report.failed:
            err.print(f"  {result.line()}", soft_wrap=True, markup=False, highlight=False)
        raise typer.Exit(1) from None
    if json_:
        print_json({"promoted": True, **done.to_dict()})
        return
    was = (
        f" (was {done.previous})" if done.previous and done.previous != done.target.version else ""
    )
    how = "copied to the target registry" if done.copied else "same registry"
    out.print(
        f"{done.target.name}: {from_env} v{done.source.version} -> {to_env} champion "
        f"v{done.target.version}{was} ({how})"
    )
    for result in done.gates.results:
        err.print(f"  {result.line()}", soft_wrap=True, markup=False, highlight=False)
    if done.gates.forced and done.gates.failed:
        names = ", ".join(r.gate for r in done.gates.failed)
        err.print(f"--force: promoted past failed gate(s) {names}; recorded as forced")
    err.print(f"recorded in {to_env} history as #{done.change.id}")
