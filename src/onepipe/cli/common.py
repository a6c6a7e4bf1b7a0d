"""Options shared by every command, and the one place the CLI reads the environment."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from onepipe.cli.json_stdout import write_document
from onepipe.config import Settings, load_settings

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="Project file (default: nearest onepipe.yaml upward)."),
]
EnvOpt = Annotated[
    str | None,
    typer.Option(
        "--env", "-e", help="Environment overlay: dev, test, acc, prod. [env: ONEPIPE_ENV]"
    ),
]
VariantOpt = Annotated[
    str | None, typer.Option("--variant", "-V", help="Params variant from onepipe.yaml.")
]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--param", "-p", help="Override: name=value for a param, section.key=value for config."
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Machine-readable JSON on stdout.")]

# Progress and messages go to stderr so stdout stays clean for --json and data.
err = Console(stderr=True, highlight=False)
out = Console(highlight=False)


def current_user() -> str:
    # Against a team server the MLflow login is the user (docs/security.md).
    name = os.environ.get("ONEPIPE_USER") or os.environ.get("MLFLOW_TRACKING_USERNAME")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return "anonymous"


def resolve(
    config: Path | None = None,
    env: str | None = None,
    variant: str | None = None,
    params: list[str] | None = None,
    *,
    tracking: bool = True,
) -> Settings:
    """Read the configuration exactly once per command, where the command starts.

    ``tracking``: the command may read or write MLflow, so its store is brought current
    first (runs still queued written, runs of killed commands closed: pipeline/outbox.py).
    Commands that never touch MLflow pass False, and so does ``onepipe run``, which must
    not when it executes nothing (run_pipeline's ``defer_tracking`` decides).
    """
    settings = load_settings(
        config or os.environ.get("ONEPIPE_CONFIG") or None,
        env=env or os.environ.get("ONEPIPE_ENV") or None,
        variant=variant,
        overrides=params or [],
        user=current_user(),
        environ=os.environ,  # ${NAME} references in URL keys (config/secrets.py)
    )
    if tracking:
        # lazy: the run recorder (tracking/, pipeline/record.py) stays off `onepipe --help`
        from onepipe.pipeline.outbox import catch_up

        catch_up(settings)
    return settings


def print_json(obj: Any) -> None:
    write_document(json.dumps(obj, indent=2, default=str) + "\n")
