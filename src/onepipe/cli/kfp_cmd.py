"""``onepipe submit`` and ``onepipe runs``: the pipeline on Kubeflow Pipelines."""

from __future__ import annotations

from typing import Annotated, Any

import typer

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

# Environments whose runs must name the exact image bytes they ran on.
PINNED_ENVS = ("acc", "prod")


def register(app: typer.Typer) -> None:
    app.command("submit")(submit)
    app.command("runs")(runs)


def _record_in_mlflow(settings: Any, plan: Any, handle: Any, steps: list) -> str:
    """The KFP run as an MLflow parent run with a child per task and the usual lineage tags.

    The tasks run in pods; what is known here is their state and duration, the params,
    the data commit, the code and the config, which is what lineage needs.
    """
    from onepipe.config.secrets import mask
    from onepipe.tracking.client import client_for
    from onepipe.tracking.gitinfo import git_state
    from onepipe.tracking.record import RunRecord, replay
    from onepipe.tracking.target import TrackingTarget
    from onepipe.tracking.tracker import lineage_tags

    data_refs = {k: v for k, v in plan.arguments.items() if k.endswith("_ref") and "@" in str(v)}
    tags = lineage_tags(
        settings, git_state(settings.root), "kfp", data_refs, f"onepipe submit --env {settings.env}"
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


def submit(
    config: ConfigOpt = None,
    env: EnvOpt = None,
    variant: VariantOpt = None,
    param: ParamOpt = None,
    no_wait: Annotated[
        bool, typer.Option("--no-wait", help="Return once the run is created.")
    ] = False,
    no_cache: Annotated[
        bool, typer.Option("--no-cache", help="Ask KFP to execute every step (no KFP cache).")
    ] = False,
    json_: JsonOpt = False,
) -> None:
    """Compile, upload and run the pipeline on Kubeflow Pipelines; follow it to the end."""
    from onepipe.errors import RunFailed, UsageError
    from onepipe.pipeline.runners.kfp import KfpRunner

    settings = resolve(config, env, variant, [*(param or []), "backends.runner=kfp"])
    if settings.env in PINNED_ENVS and not settings.image.training_digest:
        raise UsageError(
            f"env {settings.env}: image.training_digest is not set; {settings.env} runs must pin "
            f"the image by digest (set image.training_digest: sha256:... for {settings.image.training})"
        )
    from onepipe.pipeline.execute import build_plan

    plan, _ = build_plan(settings, use_cache=not no_cache)
    runner = KfpRunner(settings)
    handle = runner.submit(plan)
    err.print(
        f"[bold]{settings.project}[/] · env {settings.env} · KFP run {handle.run_name}\n"
        f"  pipeline {handle.pipeline} version {handle.version} · experiment {handle.experiment}\n"
        f"  data {plan.arguments.get('data_ref', '-')} · image {settings.image.pinned}\n"
        f"  KFP: {handle.url}" + (f"\n  MLflow: {handle.mlflow_url}" if handle.mlflow_url else "")
    )
    if no_wait:
        if json_:
            print_json(handle.to_dict())
        return

    from onepipe.pipeline.protocol import NullListener

    steps = runner.follow(handle, plan, NullListener(), on_state=lambda s: err.print(f"  {s}"))
    handle.mlflow_url = _record_in_mlflow(settings, plan, handle, steps)
    err.print(f"  MLflow: {handle.mlflow_url}")
    for step in steps:
        mark = {"done": "✓", "skipped": "-", "failed": "✗"}.get(step.status, "?")
        line = f"  {mark} {step.name:<12} {step.status:<8} {step.duration:6.1f}s"
        err.print(line + (f"  {step.error}" if step.error else ""))
    if json_:
        print_json(handle.to_dict())
    if handle.state != "SUCCEEDED":
        failed = next((s for s in steps if s.status == "failed"), None)
        why = f": step {failed.name!r} failed: {failed.error}" if failed else ""
        raise RunFailed(f"KFP run {handle.run_id} ended {handle.state}{why} ({handle.url})")


def runs(
    config: ConfigOpt = None,
    env: EnvOpt = None,
    param: ParamOpt = None,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, help="How many runs.")] = 10,
    json_: JsonOpt = False,
) -> None:
    """Recent KFP runs of this project in the environment's experiment (<project>-<env>-<user>)."""
    from onepipe.pipeline.runners.kfp import KfpRunner, experiment_name

    settings = resolve(config, env, None, [*(param or []), "backends.runner=kfp"])
    runner = KfpRunner(settings)
    rows = runner.recent_runs(limit)
    if json_:
        print_json(rows)
        return
    if not rows:
        err.print(f"no runs in experiment {experiment_name(settings)}")
        return
    for r in rows:
        out.print(f"{r['created_at']:<20} {r['state']:<10} {r['run_id']}  {r['name']}")
