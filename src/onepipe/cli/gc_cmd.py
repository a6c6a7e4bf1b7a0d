"""``onepipe gc``: remove what killed commands left and what nothing reachable points to."""

from __future__ import annotations

from typing import Annotated

import typer

from onepipe.cli.common import (
    ConfigOpt,
    EnvOpt,
    JsonOpt,
    ParamOpt,
    VariantOpt,
    err,
    print_json,
    resolve,
)
from onepipe.cli.data_cmd import _size
from onepipe.errors import UsageError


def register(app: typer.Typer) -> None:
    app.command("gc")(gc)


def gc(
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="Say what would be removed and how much it would free."),
    ] = False,
    keep_days: Annotated[
        float,
        typer.Option("--keep-days", help="Keep step cache entries used within this many days."),
    ] = 7.0,
    wait: Annotated[
        float,
        typer.Option("--wait", help="Seconds to wait for running puts and pipelines to finish."),
    ] = 30.0,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    param: ParamOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Collect temp files of killed puts, unreferenced blobs and unreachable cache entries.

    Kept: everything a branch reaches, the cache entries the pipeline hits now and those
    behind registered model versions, and entries used within --keep-days (docs/lifecycle.md).
    """
    # lazy: the pipeline planner gc uses stays off `onepipe --help`
    from onepipe.gc import collect

    if keep_days < 0 or wait < 0:
        raise UsageError(
            f"--keep-days {keep_days:g} --wait {wait:g}: expected numbers of 0 or more"
        )
    settings = resolve(config, env, variant, list(param or []))
    report = collect(settings, dry_run=dry_run, keep_days=keep_days, wait_s=wait)
    if json_:
        print_json(report.to_json())
        return
    for area in report.areas:
        if area.skipped:
            err.print(f"{area.area}: left alone: {area.skipped}", markup=False)
            continue
        found = ", ".join(f"{area.counts[k]} {k} ({_size(area.sizes[k])})" for k in area.counts)
        err.print(f"{area.area}: {found or 'nothing to collect'}", markup=False)
    if dry_run:
        err.print(f"dry run: would free {_size(report.bytes)} (nothing removed)", markup=False)
    else:
        err.print(f"freed {_size(report.bytes)}", markup=False)
