"""``onepipe render sweep``: the Katib Experiment of a sweep, as YAML, for review or GitOps.

Added to the CLI by ``register(cli)``, the ``commands`` hook of this backend's registry
line (``cli`` is an ``onepipe.cli.extend.CommandLine``). No ``from __future__ import
annotations`` here: the command's annotations are the option types ``cli`` carries.
"""

import sys
from pathlib import Path
from typing import Annotated

import typer
import yaml

NameOpt = Annotated[
    str | None, typer.Option("--name", help="Sweep name (default <project>-<env>[-<variant>]).")
]
OutputOpt = Annotated[
    Path | None, typer.Option("--output", "-o", help="Write here (default stdout).")
]


def register(cli) -> None:
    @cli.render.command("sweep")
    def render_sweep_command(
        config: cli.config = None,
        env: cli.env = None,
        variant: cli.variant = None,
        param: cli.param = None,
        name: NameOpt = None,
        output: OutputOpt = None,
    ) -> None:
        """The Katib Experiment for this sweep, validated against Katib's v1beta1 schema, as YAML."""
        render_sweep(cli, cli.resolve(config, env, variant, param), name, output)


def render_sweep(cli, settings, name: str | None, output: Path | None) -> None:
    """Print (or write to ``output``) the ConfigMap and the Experiment, applied together."""
    # lazy: the sweep and trial modules (and jsonschema) stay off `onepipe --help`, which
    # loads this module
    from onepipe.sweep.katib.experiment import build_experiment, config_map

    experiment = build_experiment(settings, name=name, parent_run_id=None, pin_data=False)
    # The ConfigMap carries the project file the trial command reads; apply both together.
    docs = [config_map(settings, experiment["metadata"]["name"]), experiment]
    text = yaml.safe_dump_all(docs, sort_keys=False, width=100)
    if output is None:
        sys.stdout.write(text)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(
        f"# Rendered by `onepipe render sweep --env {settings.env}"
        + (f" --variant {settings.variant}" if settings.variant else "")
        + "`: do not edit, re-render.\n"
        + text
    )
    cli.err.print(
        f"wrote {output} (Experiment {experiment['metadata']['name']}, "
        f"namespace {experiment['metadata']['namespace']})"
    )
