"""``onepipe run``, ``compile`` and ``ui``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer

from onepipe import plugins
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
from onepipe.cli.progress import StepProgress, print_summary
from onepipe.config.secrets import mask
from onepipe.errors import RunFailed, UsageError
from onepipe.pipeline.compile import write_ir


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("compile")(compile_)
    app.command("ui")(ui)


def run(
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    param: ParamOpt = None,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Execute every step, ignoring the cache.")
    ] = False,
    runner: Annotated[
        str | None,
        typer.Option(
            "--runner",
            help=f"One of: {', '.join(plugins.names('runner'))} (default backends.runner).",
        ),
    ] = None,
    json_: JsonOpt = False,
    trigger: Annotated[
        str | None,
        typer.Option(
            "--trigger",
            help="What started this run, tagged onepipe.trigger (set by the Pachyderm pipeline: "
            "'pachyderm-commit loans@<commit id>').",
        ),
    ] = None,
) -> None:
    """Run the pipeline: every step cached, tracked in MLflow, the model registered as challenger."""
    # lazy: the pipeline runner stays off `onepipe --help`
    from onepipe.pipeline.execute import run_pipeline

    extra = list(param or [])
    if runner:
        extra.append(f"backends.runner={runner}")
    settings = resolve(config, env, variant, extra, tracking=False)
    err.print(
        f"[bold]{settings.project}[/] · env {settings.env}"
        + (f" · variant {settings.variant}" if settings.variant else "")
        + f" · runner {settings.backends.runner}"
    )
    try:
        result = run_pipeline(
            settings,
            use_cache=not no_cache,
            listener=StepProgress(err),
            defer_tracking=True,
            extra_tags={"onepipe.trigger": _one_line_trigger(trigger)} if trigger else None,
        )
    except RunFailed as exc:
        if json_ and exc.result is not None:
            print_json(exc.result.to_dict())
        raise
    if json_:
        print_json(result.to_dict())
    else:
        print_summary(err, result, settings)


def _one_line_trigger(text: str) -> str:
    """``--trigger``: one line of text, as a tag value holds it."""
    line = " ".join(text.split())
    if not line or len(line) > 500:
        raise UsageError(
            f"--trigger {text[:60]!r}: expected one line of 1 to 500 characters "
            "(e.g. 'pachyderm-commit loans@<commit id>')"
        )
    return line


def compile_(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the IR YAML.")
    ] = Path("pipeline.yaml"),
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Compile the pipeline to KFP IR YAML (what Kubeflow Pipelines runs)."""
    settings = resolve(config, env, tracking=False)
    path = write_ir(settings, output)
    out.print(f"wrote {path} (image {settings.image.training})")


def ui(
    port: Annotated[int, typer.Option("--port", help="Port on localhost.")] = 5000,
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    config: ConfigOpt = None,
    env: EnvOpt = None,
) -> None:
    """Start the MLflow UI on this project's tracking store."""
    settings = resolve(config, env)
    if "://" in settings.tracking_uri and settings.tracking_uri.startswith("http"):
        out.print(f"tracking server for env {settings.env}: {mask(settings.tracking_uri)}")
        return
    err.print(
        f"MLflow UI on http://{host}:{port} (store {mask(settings.tracking_uri)}); Ctrl-C to stop"
    )
    args = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        settings.tracking_uri,
        "--default-artifact-root",
        settings.artifact_location,
        "--host",
        host,
        "--port",
        str(port),
    ]
    os.execv(sys.executable, args)
