"""``onepipe sweep`` (+ ``status``, ``best``) and ``onepipe trial``; the ``render`` group.

The backend comes from ``--target`` (``local``, ``cluster`` or a backend's name, see
``onepipe.plugins.target_backend``) or ``backends.sweep``; nothing here branches on
which one it got. This is the only sweep code that reads the process environment.
"""

from __future__ import annotations

import os
import shlex
import signal
import sys
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
from onepipe.errors import NotFoundError
from onepipe.sweep.progress import SweepProgress
from onepipe.sweep.protocol import SweepOptions, load_sweeper

sweep_app = typer.Typer(
    help="Hyperparameter sweeps over the pipeline's params.",
    no_args_is_help=False,
    invoke_without_command=True,
)
render_app = typer.Typer(
    help="Render cluster resources from the configuration.", no_args_is_help=True
)

NameOpt = Annotated[
    str | None, typer.Option("--name", help="Sweep name (default <project>-<env>[-<variant>]).")
]
TargetOpt = Annotated[str | None, typer.Option("--target", help=plugins.target_help("sweep"))]
KubeconfigOpt = Annotated[
    str | None, typer.Option("--kubeconfig", help="Kubeconfig for --target cluster.")
]


def register(app: typer.Typer) -> None:
    app.add_typer(sweep_app, name="sweep")
    app.command("trial")(trial)
    app.add_typer(render_app, name="render")


def _sweeper(target: str | None, config, env, variant, params, name, kubeconfig=None, timeout=None):
    extra = list(params or [])
    settings = resolve(config, env, variant, extra)
    if target is not None:
        backend = plugins.target_backend("sweep", target, settings.backends.sweep)
        settings = resolve(config, env, variant, [*extra, f"backends.sweep={backend}"])
    options = SweepOptions(
        name=name, child_env=dict(os.environ), kubeconfig=kubeconfig, timeout_s=timeout
    )
    return settings, load_sweeper(settings.backends.sweep).from_settings(settings, options)


def _term_as_interrupt() -> None:
    """`kill` (SIGTERM) stops a sweep or trial as cleanly as Ctrl-C does."""

    def handler(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)


@sweep_app.callback()
def sweep(
    ctx: typer.Context,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    param: ParamOpt = None,
    target: TargetOpt = None,
    name: NameOpt = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue an interrupted sweep.")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Trials execute every step.")
    ] = False,
    kubeconfig: KubeconfigOpt = None,
    timeout: Annotated[
        float | None, typer.Option("--timeout", help="Cluster: stop following after S seconds.")
    ] = None,
    json_: JsonOpt = False,
) -> None:
    """Run the sweep declared in onepipe.yaml; register the best trial's model as challenger."""
    if ctx.invoked_subcommand is not None:
        ctx.obj = {
            "config": config,
            "env": env,
            "variant": variant,
            "param": param,
            "target": target,
            "name": name,
            "kubeconfig": kubeconfig,
            "json": json_,
        }
        return
    settings, sweeper = _sweeper(target, config, env, variant, param, name, kubeconfig, timeout)
    sweeper.check()
    cfg = settings.sweep
    err.print(
        f"[bold]sweep {sweeper.sweep}[/] · {sweeper.name} · {cfg.algorithm.algorithmName} · "
        f"{cfg.objective.type} {cfg.objective.objectiveMetricName} · "
        f"{cfg.maxTrialCount} trials, {cfg.parallelTrialCount} in parallel"
        + (" · resuming" if resume else "")
    )
    _term_as_interrupt()
    with SweepProgress(err, cfg.maxTrialCount) as progress:
        status = sweeper.run(resume=resume, use_cache=not no_cache, listener=progress)
    if json_:
        print_json(status.to_dict())
    else:
        _print_status(status, settings)


def _from_parent(ctx: typer.Context, **given):
    merged = dict(ctx.obj or {})
    merged.update({k: v for k, v in given.items() if v is not None})
    return merged


def _sweeper_for(ctx: typer.Context, name, config, env, variant, target, kubeconfig):
    """Options of the subcommand over those given to `sweep`, then the settings and sweeper."""
    o = _from_parent(
        ctx,
        name=name,
        config=config,
        env=env,
        variant=variant,
        target=target,
        kubeconfig=kubeconfig,
    )
    settings, sweeper = _sweeper(
        o.get("target"),
        o.get("config"),
        o.get("env"),
        o.get("variant"),
        o.get("param"),
        o.get("name"),
        o.get("kubeconfig"),
    )
    return o, settings, sweeper


@sweep_app.command("status")
def status_cmd(
    ctx: typer.Context,
    name: NameOpt = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    target: TargetOpt = None,
    kubeconfig: KubeconfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """Trials done/running/failed and the best so far (works while the sweep runs)."""
    o, settings, sweeper = _sweeper_for(ctx, name, config, env, variant, target, kubeconfig)
    status = sweeper.status()
    if json_ or o.get("json"):
        print_json(status.to_dict())
    else:
        _print_status(status, settings)


@sweep_app.command("best")
def best_cmd(
    ctx: typer.Context,
    name: NameOpt = None,
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    target: TargetOpt = None,
    kubeconfig: KubeconfigOpt = None,
    json_: JsonOpt = False,
) -> None:
    """The best trial: its objective value, params and metrics."""
    o, _, sweeper = _sweeper_for(ctx, name, config, env, variant, target, kubeconfig)
    best = sweeper.best()
    if best is None:
        raise NotFoundError(f"sweep {sweeper.sweep!r} has no succeeded trial yet")
    if json_ or o.get("json"):
        print_json(best.to_dict())
        return
    out.print(f"best trial {best.name}: value {best.value:.6g}")
    out.print("params: " + " ".join(f"{k}={v}" for k, v in best.params.items()))
    if best.metrics:
        out.print("metrics: " + ", ".join(f"{k}={v:.4f}" for k, v in sorted(best.metrics.items())))
    if best.run_id:
        out.print(f"run: {best.run_id}")


def _print_status(status, settings) -> None:
    c = status.counts
    err.print(
        f"sweep {status.name} ({status.backend}): {status.state} · "
        f"{c.get('Succeeded', 0)} succeeded, {c.get('Running', 0)} running, "
        f"{c.get('Failed', 0)} failed, {c.get('EarlyStopped', 0)} early-stopped "
        f"of {status.max_trials}"
    )
    if status.best:
        b = status.best
        params = " ".join(f"{k}={v}" for k, v in b.params.items())
        err.print(f"best: {b.name} {status.objective}={b.value:.4f} ({params})")
    if status.model_version:
        err.print(
            f"model: {settings.model_name}/{status.model_version} (alias challenger, "
            f"parent run {status.parent_run_id})"
        )


def trial(
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    param: ParamOpt = None,
    sweep_: Annotated[
        str, typer.Option("--sweep", help="The sweep this trial belongs to.")
    ] = "adhoc",
    trial_name: Annotated[
        str | None, typer.Option("--trial-name", help="Trial name (Katib: ${trialSpec.Name}).")
    ] = None,
    parent_run: Annotated[
        str | None, typer.Option("--parent-run", help="MLflow run id of the sweep.")
    ] = None,
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Execute every step.")] = False,
) -> None:
    """Run one trial: the pipeline with -p overrides, metrics printed as name=value lines."""
    # lazy: the trial's pipeline runner stays off `onepipe --help`
    from onepipe.sweep.trial import ENV_DATA_COMMIT, ENV_TRACKING_URI, data_overrides, run_trial

    extra = list(param or [])
    if os.environ.get(ENV_TRACKING_URI):
        extra.insert(0, f"tracking.uri={os.environ[ENV_TRACKING_URI]}")
    settings = resolve(config, env, variant, extra)
    if os.environ.get(ENV_DATA_COMMIT):
        pins = data_overrides(settings, os.environ[ENV_DATA_COMMIT])
        settings = resolve(config, env, variant, [*extra, *pins]) if pins else settings
    _term_as_interrupt()
    name = trial_name or f"{sweep_}-{os.getpid()}"
    result = run_trial(
        settings,
        sweep=sweep_,
        trial_name=name,
        parent_run_id=parent_run,
        use_cache=not no_cache,
        command=shlex.join(["onepipe", *sys.argv[1:]]),
        out=sys.stdout,
    )
    err.print(
        f"trial {name}: run {result.run_id} ({result.executed} steps executed, "
        f"{result.cache_hits} cached, {result.duration:.2f}s)"
    )
