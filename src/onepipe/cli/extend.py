"""Commands a backend adds (``Backend.commands`` in onepipe.plugins), and what they are given.

A backend's folder cannot import ``onepipe.cli``: the CLI imports every stage, so a
stage importing it back would tie the two packages in a circle. The CLI hands its
shared parts to the backend's ``register(cli)`` instead, as Starlette hands an app
its middleware: where to add commands, the options every command shares, the
settings resolver and the consoles.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import typer
from rich.console import Console

from onepipe import plugins
from onepipe.cli import common


@dataclass(frozen=True)
class CommandLine:
    """What ``register(cli)`` of a backend's commands module receives.

    Its functions use the option types as annotations (``config: cli.config = None``),
    which is why such a module does not use ``from __future__ import annotations``.
    """

    app: typer.Typer  # `onepipe <command>`
    render: typer.Typer  # `onepipe render <what>`
    config: Any  # --config/-c
    env: Any  # --env/-e
    variant: Any  # --variant/-V
    param: Any  # --param/-p (repeatable)
    json: Any  # --json
    resolve: Callable[..., Any]  # (config, env, variant, params) -> Settings
    out: Console  # results (stdout)
    err: Console  # progress and messages (stderr)
    print_json: Callable[[Any], None]  # the one JSON document a --json command prints


def add_backend_commands(app: typer.Typer, render: typer.Typer) -> None:
    """Every registered backend's commands, in registry order."""
    cli = CommandLine(
        app=app,
        render=render,
        config=common.ConfigOpt,
        env=common.EnvOpt,
        variant=common.VariantOpt,
        param=common.ParamOpt,
        json=common.JsonOpt,
        resolve=common.resolve,
        out=common.out,
        err=common.err,
        print_json=common.print_json,
    )
    for _line, register in plugins.hooks("commands"):
        register(cli)
