"""``onepipe config show``."""

from __future__ import annotations

import typer
import yaml

from onepipe.cli.common import (
    ConfigOpt,
    EnvOpt,
    JsonOpt,
    ParamOpt,
    VariantOpt,
    out,
    print_json,
    resolve,
)

app = typer.Typer(no_args_is_help=True)


@app.command("show")
def show(
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    param: ParamOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Print the configuration resolved for an environment and variant."""
    settings = resolve(config, env, variant, param, tracking=False)
    data = settings.show()
    if json_:
        print_json(data)
    else:
        out.print(yaml.safe_dump(data, sort_keys=False).rstrip())
