"""The sweep's MLflow side, shared by both backends: the parent run, trial runs, the best model.

Every trial run is a child of the sweep's parent run and carries ``onepipe.sweep``
and ``onepipe.trial`` tags; the registered best model version points back to both.
"""

from __future__ import annotations

import json
import shlex
import sys
import time

from onepipe.config import Settings
from onepipe.errors import NotFoundError
from onepipe.tracking import leases
from onepipe.tracking.aliases import CHALLENGER, alias
from onepipe.tracking.client import client_for, experiment_id
from onepipe.tracking.gitinfo import git_state
from onepipe.tracking.modelfacts import TAGS
from onepipe.tracking.registry import ModelRef, register, set_alias


def start_parent_run(settings: Settings, sweep: str, backend: str, space: list) -> str:
    # lazy: MLflow takes ~1 s to import; `sweep status` loads this module and never writes
    from mlflow.entities import Param

    client = client_for(settings)
    tags = {
        **git_state(settings.root).tags(),
        "mlflow.runName": f"sweep-{sweep}",
        "onepipe.kind": "sweep",
        "onepipe.sweep": sweep,
        "onepipe.sweep_backend": backend,
        "onepipe.project": settings.project,
        "onepipe.env": settings.env,
        "onepipe.variant": settings.variant or "",
        "onepipe.user": settings.user,
        "onepipe.config_hash": settings.config_hash,
        "onepipe.command": shlex.join(["onepipe", *sys.argv[1:]]),
        "mlflow.user": settings.user,
    }
    run = client.create_run(experiment_id(settings), tags=tags, run_name=f"sweep-{sweep}")
    run_id = run.info.run_id
    # A sweeper killed before it finishes: the next command closes the run (leases.py).
    leases.hold(settings.outbox_dir, settings.tracking_uri, run_id)
    cfg = settings.sweep
    client.log_batch(
        run_id,
        params=[
            Param("objective", f"{cfg.objective.type} {cfg.objective.objectiveMetricName}"),
            Param("algorithm", cfg.algorithm.algorithmName),
            Param("maxTrialCount", str(cfg.maxTrialCount)),
            Param("parallelTrialCount", str(cfg.parallelTrialCount)),
        ],
    )
    client.log_dict(
        run_id, settings.sweep.model_dump(by_alias=True, exclude_none=True), "onepipe/sweep.json"
    )
    return run_id


def reopen_parent_run(settings: Settings, run_id: str) -> None:
    client = client_for(settings)
    leases.hold(settings.outbox_dir, settings.tracking_uri, run_id)  # this process writes it now
    client.update_run(run_id, status="RUNNING")


def finish_parent_run(
    settings: Settings,
    run_id: str,
    *,
    status: str,
    tags: dict[str, str],
    metrics: dict[str, float] | None = None,
) -> None:
    # lazy: MLflow takes ~1 s to import; `sweep status` loads this module and never writes
    from mlflow.entities import Metric, RunTag

    client = client_for(settings)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[Metric(k, v, now, 0) for k, v in (metrics or {}).items()],
        tags=[RunTag(k, v) for k, v in tags.items()],
    )
    client.set_terminated(run_id, status=status)
    leases.release(settings.outbox_dir, run_id)


def find_trial_run(
    settings: Settings, sweep: str, trial_name: str, *, finished_only: bool = True
) -> str | None:
    """The finished MLflow run of one trial (the latest, if a trial was retried).

    ``finished_only=False``: else the latest run of the trial in any state (one still
    running, or one whose pod was stopped before it could close its run).
    """
    client = client_for(settings)
    trial = f"tags.`onepipe.sweep` = '{sweep}' and tags.`onepipe.trial` = '{trial_name}'"
    filters = [f"{trial} and attributes.status = 'FINISHED'"]
    if not finished_only:
        filters.append(trial)
    for flt in filters:
        runs = client.search_runs(
            [experiment_id(settings)],
            flt,
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if runs:
            return runs[0].info.run_id
    return None


def register_best(
    settings: Settings, *, sweep: str, trial_name: str, trial_run_id: str, parent_run_id: str | None
) -> ModelRef:
    """Register the best trial's model as ``challenger``, tagged with the sweep it won."""
    client = client_for(settings)
    run = client.get_run(trial_run_id)
    model_hash = run.data.tags.get("onepipe.model_hash")
    if not model_hash:
        raise NotFoundError(
            f"trial {trial_name}: run {trial_run_id} has no logged model "
            "(expected the onepipe.model_hash tag the trial command sets)"
        )
    lineage_tags = {
        "onepipe.sweep": sweep,
        "onepipe.trial": trial_name,
        "onepipe.sweep_run": parent_run_id or "",
        # The model's task and label, which the trial copied from the model onto its run.
        **{k: v for k, v in run.data.tags.items() if k in TAGS.values()},
    }
    # The trial (maybe in a pod) logged the model under "model" of its run: register that.
    ref, _ = register(settings, trial_run_id, None, model_hash, alias=CHALLENGER, tags=lineage_tags)
    # Two sweeps registering at once against one server (team mode) race on the version
    # number; read the version back and write any lineage tag it lacks.
    held = client.get_model_version(ref.name, ref.version).tags or {}
    for key, value in lineage_tags.items():
        if held.get(key) != value:
            client.set_model_version_tag(ref.name, ref.version, key, value)
    # An identical model may already be registered: point challenger at it all the same.
    set_alias(client, ref.name, alias(settings, CHALLENGER), ref.version)
    if parent_run_id:
        client.set_tag(parent_run_id, "onepipe.model", f"{ref.name}/{ref.version}")
        client.set_tag(parent_run_id, "onepipe.best_trial", trial_name)
        client.set_tag(parent_run_id, "onepipe.best_run", trial_run_id)
    return ModelRef(ref.name, ref.version, trial_run_id, ref.source, (alias(settings, CHALLENGER),))


def best_params_json(params: dict) -> str:
    return json.dumps(params, sort_keys=True, default=str)
