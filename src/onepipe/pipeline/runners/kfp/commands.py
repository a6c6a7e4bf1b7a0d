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


def _open_parent(settings: Any, plan: Any, run_name: str) -> tuple[Any, Any]:
    """The KFP run's MLflow parent run, opened before KFP starts any pod: the steps' pods
    write their own runs under it (pipeline/pod_tracking.py). Returns (tracker, record)."""
    # lazy: the run recorder and the tracking modules stay off `onepipe --help`, which
    # loads this module
    from onepipe.pipeline.record import RunRecord, open_run
    from onepipe.pipeline.tracker import lineage_tags
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
    record = RunRecord(
        target=TrackingTarget.from_settings(settings),
        cache_root=str(plan.cache_dir),
        run_name=run_name,
        params=dict(plan.arguments),
        tags=tags,
        ir=plan.ir,
    )
    return open_run(record), record


def _tag_parent(tracker: Any, handle: Any) -> None:
    """Name the KFP run on the parent: a pod finds its parent run by this id."""
    # lazy: as in _open_parent
    from mlflow.entities import RunTag

    tags = {
        "onepipe.kfp.run_id": handle.run_id,
        "onepipe.kfp.url": handle.url,
        "onepipe.kfp.pipeline_version": handle.version,
    }
    tracker.client.log_batch(tracker.run_id, tags=[RunTag(k, v) for k, v in tags.items()])


def _close_parent(settings: Any, tracker: Any, record: Any, handle: Any, steps: list) -> str:
    """End the parent run once KFP's run ended: a task whose pod wrote no run of its own
    (a KFP cache hit, a pod that died first) gets one with its state and duration; the
    metrics step's metrics and the model step's version become the run's."""
    # lazy: as in _open_parent
    from onepipe.pipeline.record import close_run
    from onepipe.tracking.client import client_for

    client = tracker.client
    # The pods' runs: under this parent, or (KFP's own MLflow integration on) the nested runs
    # KFP opened, wherever their experiment is; both carry this KFP run's id.
    experiments = [e.experiment_id for e in client.search_experiments()]
    found = client.search_runs(
        experiments,
        f"tags.`onepipe.kfp.run_id` = '{handle.run_id}' and tags.`onepipe.kind` = 'step'",
    )
    written = {r.data.tags.get("onepipe.step"): r for r in found}
    for step in steps:
        if step.name not in written:
            tracker.step_finished(step)
    metrics_run = written.get(settings.model.metrics_step)
    model_run = written.get(settings.model.step)
    record.steps = steps
    record.metrics = {
        k: v
        for k, v in (metrics_run.data.metrics if metrics_run else {}).items()
        if k != "duration_s"
    }
    record.final_tags = {
        "onepipe.executed": str(sum(s.status == "done" for s in steps)),
        "onepipe.kfp.state": handle.state,
    }
    if model_run and model_run.data.tags.get("onepipe.model"):
        record.final_tags["onepipe.model"] = model_run.data.tags["onepipe.model"]
    close_run(tracker, record)  # record.model is None: the model step's pod registered it
    uri = settings.tracking_uri
    if uri.startswith(("http://", "https://")):
        exp = client_for(settings).get_run(tracker.run_id).info.experiment_id
        return mask(f"{uri.rstrip('/')}/#/experiments/{exp}/runs/{tracker.run_id}")
    return f"run {tracker.run_id} in {mask(uri)} (open it with `onepipe ui`)"


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
    # lazy: as above
    from onepipe.tracking.leases import release

    plan, _ = build_plan(settings, use_cache=not no_cache)
    runner = KfpRunner(settings)
    run_name = runner.run_name(plan)
    opened: list = []  # (tracker, record), once KFP took the pipeline

    def open_parent() -> None:
        opened.extend(_open_parent(settings, plan, run_name))

    try:
        handle = runner.submit(plan, run_name=run_name, before_run=open_parent)
    except BaseException:
        if opened:
            opened[0].abandon("FAILED")
        raise
    tracker, record = opened
    _tag_parent(tracker, handle)
    cli.err.print(
        f"[bold]{settings.project}[/] · env {settings.env} · KFP run {handle.run_name}\n"
        f"  pipeline {handle.pipeline} version {handle.version} · experiment {handle.experiment}\n"
        f"  data {plan.arguments.get('data_ref', '-')} · image {settings.image.pinned}\n"
        f"  KFP: {handle.url}" + (f"\n  MLflow: {handle.mlflow_url}" if handle.mlflow_url else "")
    )
    if no_wait:
        # The run stays RUNNING (the pods write into it; nothing here follows it to its end),
        # so this process gives up its lease: the next command must not close it as KILLED.
        release(tracker.target.outbox_dir, tracker.run_id)
        if json_:
            cli.print_json(handle.to_dict())
        return

    try:
        steps = runner.follow(
            handle, plan, NullListener(), on_state=lambda s: cli.err.print(f"  {s}")
        )
    except RunFailed:  # still running at kfp.timeout_s: as with --no-wait, it stays open
        release(tracker.target.outbox_dir, tracker.run_id)
        raise
    except BaseException as exc:  # stopped following: the MLflow run must not stay RUNNING
        tracker.abandon("KILLED" if isinstance(exc, KeyboardInterrupt) else "FAILED")
        raise
    handle.mlflow_url = _close_parent(settings, tracker, record, handle, steps)
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
