"""Registry commands: ``promote``, ``lineage``, ``reproduce``, ``models``."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table
from rich.tree import Tree

from onepipe.cli.common import ConfigOpt, EnvOpt, JsonOpt, err, out, print_json, resolve
from onepipe.cli.progress import StepProgress
from onepipe.cli.team_cmd import promote_between_envs
from onepipe.errors import UsageError
from onepipe.tracking.client import client_for
from onepipe.tracking.lineage import lineage as get_lineage


def register(app: typer.Typer) -> None:
    app.command("promote")(promote)
    app.command("lineage")(lineage)
    app.command("reproduce")(reproduce)
    app.command("models")(models)


def promote(
    model: Annotated[
        str | None, typer.Argument(help="Model name (default: model.name from config).")
    ] = None,
    version: Annotated[
        str | None,
        typer.Option("--version", "-v", help="Version to promote (default: the challenger)."),
    ] = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    json_: JsonOpt = False,
    from_env: Annotated[
        str | None,
        typer.Option("--from", help="Copy this env's champion (or --version) ... (with --to)."),
    ] = None,
    to_env: Annotated[
        str | None,
        typer.Option("--to", help="... to be this env's champion (docs/teams.md)."),
    ] = None,
    reason: Annotated[str, typer.Option("--reason", help="Recorded in the history.")] = "",
    force: Annotated[
        bool,
        typer.Option("--force", help="With --from/--to: past failed promotion gates (recorded)."),
    ] = False,
) -> None:
    """Move the `champion` alias to a version (default: the current `challenger`).

    With --from/--to: make one environment's champion the other's (lineage kept, recorded),
    once the target's promotion gates pass (docs/teams.md).
    """
    if from_env or to_env:
        if not (from_env and to_env) or env:
            raise UsageError("promote: --from and --to go together, without --env")
        return promote_between_envs(
            model, version, from_env, to_env, reason, config, json_, force=force
        )
    if force:
        raise UsageError("promote: --force goes with --from/--to (the gates guard those)")
    # lazy: the deployment history (SQLite) stays off `onepipe --help`
    # (serving follows, if deployed)
    from onepipe.serve.deployments import promote as do_promote

    settings = resolve(config, env)
    ref, previous, routed = do_promote(settings, version, name=model)
    if json_:
        print_json(
            {
                "model": ref.name,
                "champion": ref.version,
                "previous": previous,
                "deployment": routed[0].to_dict() if routed else None,
            }
        )
        return
    was = f" (was {previous})" if previous and previous != ref.version else ""
    out.print(f"{ref.name}: champion -> version {ref.version}{was}")
    if routed:
        err.print(f"deployment #{routed[0].id}: {routed[1]}")


def lineage(
    model: Annotated[str, typer.Argument(help="NAME@ALIAS, NAME/VERSION or NAME (champion).")],
    config: ConfigOpt = None,
    env: EnvOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Print the chain: model version -> run -> steps -> data commits -> git commit -> config."""
    settings = resolve(config, env)
    info = get_lineage(settings, model)
    if json_:
        info["config"].pop("content", None)
        print_json(info)
        return
    m, r = info["model"], info["run"]
    aliases = f" [{', '.join(m['aliases'])}]" if m["aliases"] else ""
    tree = Tree(f"[bold]model[/] {m['name']}/{m['version']}{aliases}")
    run = tree.add(
        f"[bold]run[/] {r['id']} ({r['status'].lower()}, runner {r['runner']}, user {r['user']})"
    )
    run.add("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(r["metrics"].items())))
    run.add("params: " + ", ".join(f"{k}={v}" for k, v in sorted(r["params"].items())))
    steps = run.add("[bold]steps[/]")
    for s in info["steps"]:
        origin = (
            f"cache hit, produced by run {s['produced_by'][:12]}"
            if s["cache_hit"]
            else f"run {s['run_id'][:12]}"
        )
        steps.add(f"{s['name']}: {s['status']} ({origin})")
    data = tree.add("[bold]data[/]")
    for ref in info["data"]:
        data.add(ref)
    g = info["git"]
    tree.add(
        f"[bold]git[/] {g['commit']}"
        + (f" (dirty, diff {g['diff_hash']})" if g["dirty"] else " (clean)")
    )
    c = info["config"]
    tree.add(
        f"[bold]config[/] hash {c['hash']}, env {c['env']}, variant {c['variant'] or '-'} "
        f"(artifact {c['artifact']} of run {r['id'][:12]})"
    )
    out.print(tree)


def reproduce(
    model: Annotated[str, typer.Argument(help="NAME/VERSION or NAME@ALIAS to reproduce.")],
    config: ConfigOpt = None,
    env: EnvOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Re-run the recorded config at the recorded data commit; report whether metrics match exactly."""
    # lazy: the pipeline runner stays off `onepipe --help`
    from onepipe.pipeline.reproduce import reproduce as do_reproduce

    settings = resolve(config, env)
    rep = do_reproduce(settings, model, listener=None if json_ else StepProgress(err))
    if json_:
        print_json(rep.to_dict())
    else:
        if rep.git_differs:
            err.print(
                f"[yellow]warning:[/] HEAD is {rep.head_git[:12]}, the model was trained at "
                f"{rep.recorded_git[:12]}: code may differ"
            )
        if rep.exact:
            out.print(
                f"{rep.model} reproduced: all {len(rep.new_metrics)} metrics match exactly (run {rep.run_id})"
            )
        else:
            out.print(f"{rep.model} NOT reproduced exactly (run {rep.run_id}):")
            for k, (a, b) in rep.differences.items():
                out.print(f"  {k}: recorded {a} -> now {b}")
    if not rep.exact:
        raise typer.Exit(1)


def models(config: ConfigOpt = None, env: EnvOpt = None, json_: JsonOpt = False) -> None:
    """List registered versions of the project's model: aliases, task and the project's metrics."""
    # lazy: MLflow (~1 s to import) and the monitor stay off `onepipe --help`
    from mlflow.exceptions import MlflowException

    from onepipe.monitor.task import newest_task, task_for

    settings = resolve(config, env)
    client = client_for(settings)
    name = settings.model_name
    found = client.search_model_versions(f"name='{name}'")
    try:  # search_model_versions leaves aliases out: the registered model has them all
        aliases = client.get_registered_model(name).aliases if found else {}
    except MlflowException:
        aliases = {}
    rows = []
    for mv in sorted(found, key=lambda v: int(v.version)):
        version = str(mv.version)
        rows.append(
            {
                "version": version,
                "aliases": sorted(a for a, v in aliases.items() if str(v) == version),
                "run_id": mv.run_id,
                "task": task_for(settings, version),
                "metrics": client.get_run(mv.run_id).data.metrics if mv.run_id else {},
            }
        )
    task = newest_task({r["version"]: r["task"] for r in rows})
    # The project's metrics, primary first; with none known, every metric the runs logged.
    specs = [m.to_dict() for m in settings.metrics_for(task)]
    columns = [m["name"] for m in specs] or sorted({k for r in rows for k in r["metrics"]})
    if json_:
        print_json({"model": name, "task": task, "metrics": specs, "versions": rows})
        return
    table = Table(show_edge=False)
    for col in ("version", "aliases", "task", "run", *columns):
        table.add_column(col)
    for r in rows:
        table.add_row(
            r["version"],
            ", ".join(r["aliases"]),
            r["task"] or "-",
            (r["run_id"] or "-")[:12],
            *(f"{r['metrics'][c]:.4f}" if c in r["metrics"] else "-" for c in columns),
        )
    out.print(table)
