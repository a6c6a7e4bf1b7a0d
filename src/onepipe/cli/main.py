"""The ``onepipe`` command. Sub-command modules import heavy libraries inside their functions."""

from __future__ import annotations

import logging
import os
import sys

import click
import typer

from onepipe import __version__
from onepipe.cli import (
    config_cmd,
    data_cmd,
    demo_cmd,
    extend,
    gc_cmd,
    init_cmd,
    loop_cmd,
    model_cmd,
    monitor_cmd,
    render_cmd,
    run_cmd,
    serve_cmd,
    sweep_cmd,
    team_cmd,
    up_cmd,
)
from onepipe.cli.error_lines import masked, tracking_server_said
from onepipe.cli.json_stdout import stdout_reserved_for_json
from onepipe.errors import OnepipeError

app = typer.Typer(
    name="onepipe",
    help="One ML pipeline from notebook to production.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"onepipe {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """One ML pipeline from notebook to production."""


def _register() -> None:
    init_cmd.register(app)  # `onepipe init`
    demo_cmd.register(app)  # `onepipe demo`
    app.add_typer(config_cmd.app, name="config", help="Show the resolved configuration.")
    app.add_typer(data_cmd.app, name="data", help="Versioned data: repos, branches, commits.")
    run_cmd.register(app)
    extend.add_backend_commands(app, sweep_cmd.render_app)  # `submit`, `render sweep` ...
    model_cmd.register(app)
    sweep_cmd.register(app)
    render_cmd.register(sweep_cmd.render_app)  # `onepipe render overlays`
    up_cmd.register(app)  # `onepipe up [--dry-run]`
    serve_cmd.register(app)
    monitor_cmd.register(app)
    team_cmd.register(app)  # `onepipe server`
    loop_cmd.register(app)  # `onepipe watch`, `onepipe report`
    gc_cmd.register(app)  # `onepipe gc`


_register()


def _quiet_libraries() -> None:
    # MLflow's INFO lines and artifact progress bars drown the step progress.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # MLflow sets its logger's level from this when it is imported, after this runs.
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
    os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
    for name in ("mlflow", "alembic", "kfp", "urllib3"):
        logging.getLogger(name).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI: exit 0 ok, 1 a run failed, 2 usage or config error; never a traceback."""
    _quiet_libraries()
    try:
        args = sys.argv[1:] if argv is None else argv
        # With --json, stdout is the JSON's alone: libraries and child processes print to stderr.
        with stdout_reserved_for_json("--json" in args):
            # With standalone_mode off, typer.Exit(n) comes back as the return value.
            rv = app(args=args, standalone_mode=False, prog_name="onepipe")
        return rv if isinstance(rv, int) else 0
    except OnepipeError as exc:
        typer.echo(f"error: {masked(exc)}", err=True)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except (click.exceptions.Abort, typer.Abort):
        typer.echo("aborted", err=True)
        return 130
    except (click.ClickException, typer.exceptions.TyperException) as exc:
        # typer vendors its own click: its parser errors are not click's classes.
        usage = getattr(exc, "ctx", None)
        hint = f" (see: {usage.command_path} --help)" if usage is not None else ""
        typer.echo(f"error: {exc.format_message()}{hint}", err=True)
        return 2
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    except Exception as exc:  # a bug of ours: one line, with a way to get the traceback
        if os.environ.get("ONEPIPE_DEBUG"):
            raise
        said = tracking_server_said(exc)
        if said:
            typer.echo(f"error: {said}", err=True)
            return 2
        typer.echo(
            f"error: internal error: {type(exc).__name__}: {masked(exc)} (set ONEPIPE_DEBUG=1 for the traceback)",
            err=True,
        )
        return 1


def entry() -> None:
    sys.exit(main())
