"""Read the chain back: model version -> run -> steps -> data commits -> git commit -> config."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from onepipe.config import Settings
from onepipe.tracking.client import client_for
from onepipe.tracking.registry import resolve_model


def lineage(settings: Settings, spec: str) -> dict[str, Any]:
    client = client_for(settings)
    model = resolve_model(settings, spec)
    run = client.get_run(model.run_id)
    tags = run.data.tags
    children = client.search_runs(
        [run.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{run.info.run_id}' and tags.`onepipe.kind` = 'step'",
        max_results=200,
    )
    steps = []
    for child in sorted(children, key=lambda r: r.info.start_time):
        t = child.data.tags
        steps.append(
            {
                "name": t.get("onepipe.step", child.info.run_name),
                "run_id": child.info.run_id,
                "status": t.get("onepipe.status", ""),
                "cache_hit": t.get("onepipe.cache_hit") == "true",
                "produced_by": t.get("onepipe.cache_source_run") or child.info.run_id,
                "cache_key": t.get("onepipe.cache_key", ""),
                "params": child.data.params,
                "metrics": {k: v for k, v in child.data.metrics.items() if k != "duration_s"},
                "outputs": {
                    k[len("onepipe.output.") :]: v
                    for k, v in t.items()
                    if k.startswith("onepipe.output.")
                },
            }
        )
    try:
        config = json.loads(_read_artifact_text(client, run.info.run_id, "onepipe/config.json"))
    except Exception:  # an older run without the artifact
        config = None
    mv = client.get_model_version(model.name, model.version)
    return {
        "model": {
            "name": model.name,
            "version": model.version,
            "aliases": list(mv.aliases or []),
            "source": model.source,
            "model_hash": (mv.tags or {}).get("onepipe.model_hash", ""),
        },
        "run": {
            "id": run.info.run_id,
            "experiment_id": run.info.experiment_id,
            "status": run.info.status,
            "start_time": run.info.start_time,
            "params": run.data.params,
            "metrics": run.data.metrics,
            "command": tags.get("onepipe.command", ""),
            "runner": tags.get("onepipe.runner", ""),
            "user": tags.get("onepipe.user", ""),
        },
        "steps": steps,
        "data": json.loads(tags.get("onepipe.data_commits", "[]")),
        "git": {
            "commit": tags.get("onepipe.git.commit", ""),
            "dirty": tags.get("onepipe.git.dirty") == "true",
            "diff_hash": tags.get("onepipe.git.diff_hash", ""),
            "branch": tags.get("onepipe.git.branch", ""),
        },
        "config": {
            "hash": tags.get("onepipe.config_hash", ""),
            "env": tags.get("onepipe.env", ""),
            "variant": tags.get("onepipe.variant") or None,
            "artifact": "onepipe/config.json",
            "content": config,
        },
        "packages": {
            k[len("onepipe.pkg.") :]: v for k, v in tags.items() if k.startswith("onepipe.pkg.")
        },
    }


def _read_artifact_text(client, run_id: str, path: str) -> str:
    with tempfile.TemporaryDirectory() as tmp:
        local = client.download_artifacts(run_id, path, tmp)
        return Path(local).read_text()


def registered_cache_keys(settings: Settings) -> set[str]:
    """Step cache keys behind every registered version of the project's model: the keys
    its run's step runs name (``onepipe gc`` keeps those entries)."""
    client = client_for(settings)
    keys: set[str] = set()
    for mv in client.search_model_versions(f"name='{settings.model_name}'"):
        if not mv.run_id:
            continue
        run = client.get_run(mv.run_id)
        steps = client.search_runs(
            [run.info.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{mv.run_id}' "
            "and tags.`onepipe.kind` = 'step'",
            max_results=1000,
        )
        keys.update(
            s.data.tags["onepipe.cache_key"] for s in steps if s.data.tags.get("onepipe.cache_key")
        )
    return keys
