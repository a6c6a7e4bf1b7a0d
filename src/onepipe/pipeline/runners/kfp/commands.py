"""``onepipe submit`` and ``onepipe runs``: the pipeline on Kubeflow Pipelines.

Added to the CLI by ``register(cli)``, the ``commands`` hook of this backend's registry
line (``cli`` is an ``onepipe.cli.extend.CommandLine``). No ``from __future__ import
annotations`` here: the commands' annotations are the option types ``cli`` carries.
"""

from typing import Annotated, Any

import typer

from onepipe.config.secrets import mask
from onepipe.errors import RunFailed, UsageError
from onepipe.pipeline.protocol import NullListener

RUNNER = "kfp"  # this backend's registry name: both commands resolve the settings with it
# Environments whose runs must name the exact image bytes they ran on.
PINNED_ENVS = ("acc", "prod")

NoWaitOpt = Annotated[bool, typer.Option("--no-wait", help="Return once the run is created.")]
NoCacheOpt = Annotated[
    bool, typer.Option("--no-cache", help="Ask KFP to execute every step (no KFP cache).")
]
LimitOpt = Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")]


def register(cli) -> None:
    def resolve(config, env, variant, param):
        return cli.resolve(config, env, variant, [*(param or []), f"backends.runner={RUNNER}"])

    @cli.app.command("submit")
    def submit_command(
        config: cli.config = None,
        env: cli.env = None,
        variant: cli.variant = None,
        param: cli.param = None,
        no_wait: NoWaitOpt = False,
        no_cache: NoCacheOpt = False,
        json_: cli.json = False,
    ) -> None:
        """Compile, upload and run the pipeline on Kubeflow Pipelines; follow it to the end."""
        submit(cli, resolve(config, env, variant, param), no_wait, no_cache, json_)

    @cli.app.command("runs")
    def runs_command(
        config: cli.config = None,
        env: cli.env = None,
        param: cli.param = None,
        limit: LimitOpt = 10,
        json_: cli.json = False,
    ) -> None:
        """Recent KFP runs of this project in the environment's experiment (<project>-<env>-<user>)."""
        runs(cli, resolve(config, env, None, param), limit, json_)


def _record_in_mlflow(settings: Any, plan: Any, handle: Any, steps: list) -> str:
    """The KFP run as an MLflow parent run with a child per task and the usual lineage tags.

    The tasks run in pods; what is known here is their state and duration, the params,
    the data commit, the code and the config, which is what lineage needs.
    """
    # lazy: the run recorder and the tracking modules stay off `onepipe --help`, which
    # loads this module
    from onepipe.pipeline.record import RunRecord, replay
    from onepipe.pipeline.tracker import lineage_tags
    from onepipe.tracking.client import client_for
    from onepipe.tracking.gitinfo import git_state
    from onepipe.tracking.target import TrackingTarget

    data_refs = {k: v for k, v in plan.arguments.items() if k.endswith("_ref") and "@" in str(v)}
    tags = lineage_tags(
        settings,
        git_state(settings.root),
        RUNNER,
        data_refs,
        f"onepipe submit --env {settings.env}",
    )
    tags.update(
        {
            "onepipe.kfp.run_id": handle.run_id,
            "onepipe.kfp.url": handle.url,
            "onepipe.kfp.state": handle.state,
            "onepipe.kfp.pipeline_version": handle.version,
        }
    )
    record = RunRecord(
        target=TrackingTarget.from_settings(settings),
        cache_root=str(plan.cache_dir),
        run_name=handle.run_name,
        params=dict(plan.arguments),
        tags=tags,
        ir=plan.ir,
        steps=steps,
        final_tags={"onepipe.executed": str(sum(s.status == "done" for s in steps))},
    )
    run_id, _, _ = replay(record)
    uri = settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        exp = client_for(settings).get_run(run_id).info.experiment_id
        return mask(f"{uri.rstrip('/')}/#/experiments/{exp}/runs/{run_id}")
    return f"run {run_id} in {mask(uri)} (open it with `onepipe ui`)"


def submit(cli, settings: Any, no_wait: bool, no_cache: bool, json_: bool) -> None:
    """Compile, upload, run; follow the run and record it in MLflow unless ``no_wait``."""
    # lazy: the KFP runner and the pipeline planner stay off `onepipe --help`, which loads
    # this module
    from onepipe.pipeline.execute import build_plan
    from onepipe.pipeline.runners.kfp.runner import KfpRunner

    if settings.env in PINNED_ENVS and not settings.image.training_digest:
        raise UsageError(
            f"env {settings.env}: image.training_digest is not set; {settings.env} runs must pin "
            f"the image by digest (set image.training_digest: sha256:... for {settings.image.training})"
        )
    plan, _ = build_plan(settings, use_cache=not no_cache)
    runner = KfpRunner(settings)
    handle = runner.submit(plan)
    cli.err.print(
        f"[bold]{settings.project}[/] · env {settings.env} · KFP run {handle.run_name}\n"
        f"  pipeline {handle.pipeline} version {handle.version} · experiment {handle.experiment}\n"
        f"  data {plan.arguments.get('data_ref', '-')} · image {settings.image.pinned}\n"
        f"  KFP: {handle.url}" + (f"\n  MLflow: {handle.mlflow_url}" if handle.mlflow_url else "")
    )
    if no_wait:
        if json_:
            cli.print_json(handle.to_dict())
        return

    steps = runner.follow(handle, plan, NullListener(), on_state=lambda s: cli.err.print(f"  {s}"))
    handle.mlflow_url = _record_in_mlflow(settings, plan, handle, steps)
    cli.err.print(f"  MLflow: {handle.mlflow_url}")
    for step in steps:
        mark = {"done": "✓", "skipped": "-", "failed": "✗"}.get(step.status, "?")
        line = f"  {mark} {step.name:<12} {step.status:<8} {step.duration:6.1f}s"
        cli.err.print(line + (f"  {step.error}" if step.error else ""))
    if json_:
        cli.print_json(handle.to_dict())
    if handle.state != "SUCCEEDED":
        failed = next((s for s in steps if s.status == "failed"), None)
        why = f": step {failed.name!r} failed: {failed.error}" if failed else ""
        raise RunFailed(f"KFP run {handle.run_id} ended {handle.state}{why} ({handle.url})")


def runs(cli, settings: Any, limit: int, json_: bool) -> None:
    """The ``limit`` newest runs of the environment's experiment."""
    # lazy: as in submit()
    from onepipe.pipeline.runners.kfp.runner import KfpRunner, experiment_name

    runner = KfpRunner(settings)
    rows = runner.recent_runs(limit)
    if json_:
        cli.print_json(rows)
        return
    if not rows:
        cli.err.print(f"no runs in experiment {experiment_name(settings)}")
        return
    for r in rows:
        cli.out.print(f"{r['created_at']:<20} {r['state']:<10} {r['run_id']}  {r['name']}")
