"""Promote across environments: ``onepipe promote --from acc --to prod``.

The version holding the source environment's ``champion`` alias (or ``--version``)
becomes the target environment's champion. When both environments track to the
same registry the alias simply moves; when their tracking URIs differ the model
version is copied into the target registry first: its artifacts are downloaded,
logged to a run in the target environment's experiment that carries the source
run's lineage tags, params and metrics, and registered with ``onepipe.source.*``
tags naming the source registry, version and run. Either way the promotion is
recorded in the target environment's deployment history (backend ``registry``,
so it never reads as a routing change of a live deployment).

Before anything moves, the target environment's promotion gates are checked
(onepipe.team.gates); their figures go into the history row's reason and, as JSON,
onto the promoted version (tag ``onepipe.promotion.gates``).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.artifacts
from mlflow.entities import Metric, Param, RunTag

from onepipe.config.secrets import mask
from onepipe.errors import NotFoundError, UsageError
from onepipe.history import DeploymentState, open_history
from onepipe.team.gates import GateReport, check_gates
from onepipe.tracking.aliases import CHAMPION, alias
from onepipe.tracking.client import client_for, experiment_id
from onepipe.tracking.registry import register, resolve_model, set_alias

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.history import Change
    from onepipe.tracking.registry import ModelRef

HISTORY_BACKEND = "registry"  # history rows of registry moves, apart from routing changes
EVIDENCE_TAG = "onepipe.promotion.gates"  # the gates' figures (JSON) on the promoted version
SOURCE_TAGS = ("onepipe.source.registry", "onepipe.source.version", "onepipe.source.run")


@dataclass(frozen=True)
class EnvPromotion:
    source: ModelRef  # the version in the source environment's registry
    target: ModelRef  # the version now holding the target's champion alias
    previous: str | None  # the target's champion before
    copied: bool  # True: a new version was created in the target registry
    change: Change
    from_env: str
    to_env: str
    gates: GateReport = field(default_factory=lambda: GateReport([]))

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.target.name,
            "from": {"env": self.from_env, "version": self.source.version},
            "to": {"env": self.to_env, "version": self.target.version},
            "aliases": list(self.target.aliases),
            "previous": self.previous,
            "copied": self.copied,
            "history_id": self.change.id,
            "forced": self.gates.forced,
            "gates": self.gates.to_dicts(),
        }


def promote_between(
    src: Settings,
    dst: Settings,
    *,
    name: str | None = None,
    version: str | None = None,
    reason: str = "",
    force: bool = False,
) -> EnvPromotion:
    """Make ``src``'s champion (or ``version``) the champion of ``dst``; record it in history.

    ``dst``'s promotion gates are checked first: ``PromotionRefused`` (exit 1) when one
    fails, unless ``force``, which moves the model anyway and records what it overrode.
    """
    if src.env == dst.env:
        raise UsageError(f"--from {src.env} --to {dst.env}: expected two different environments")
    name = name or src.model_name
    source = resolve_model(src, f"{name}/{version}" if version else f"{name}@{CHAMPION}")
    gates = check_gates(src, dst, source, force=force)  # refuses before anything moves
    same = src.tracking_uri == dst.tracking_uri
    copied = False
    if same:
        target_version = source.version
    else:
        target_version, copied = _copy_version(src, dst, source)
    try:
        previous: str | None = resolve_model(dst, f"{name}@{CHAMPION}").version
    except NotFoundError:
        previous = None
    set_alias(_client(dst), name, alias(dst, CHAMPION), target_version)
    _client(dst).set_model_version_tag(name, target_version, "onepipe.promoted_from", src.env)
    if previous and previous != target_version:
        _client(dst).set_model_version_tag(
            name, target_version, "onepipe.previous_champion", previous
        )
    if gates.results:
        _client(dst).set_model_version_tag(name, target_version, EVIDENCE_TAG, gates.evidence())
    target = resolve_model(dst, f"{name}/{target_version}")
    # The reason is recorded in the shared history: no password in it.
    where = "same registry" if same else f"copied from {mask(src.tracking_uri)} v{source.version}"
    text = f"{src.env} v{source.version} -> {dst.env} v{target.version} ({where})"
    if reason:
        text = f"{text}: {reason}"
    if gates.results:
        text = f"{text} [{gates.reason()}]"
    change = open_history(dst).record(
        env=dst.env,
        backend=HISTORY_BACKEND,
        action="promote",
        user=dst.user,
        state=DeploymentState(name, target.version),
        reason=text,
    )
    return EnvPromotion(source, target, previous, copied, change, src.env, dst.env, gates)


def registry_history(settings: Settings, limit: int | None = None) -> list[Change]:
    """Cross-environment promotions recorded for this environment, newest first."""
    return open_history(settings).list(
        env=settings.env, backend=HISTORY_BACKEND, model=settings.model_name, limit=limit
    )


def _client(settings: Settings):
    return client_for(settings)


def _copy_version(src: Settings, dst: Settings, source: ModelRef) -> tuple[str, bool]:
    """The target registry's copy of ``source`` (created on first promotion); (version, created)."""
    sc, dc = _client(src), _client(dst)
    mv = sc.get_model_version(source.name, source.version)
    model_hash = (mv.tags or {}).get("onepipe.model_hash", "")
    origin = {
        "onepipe.source.registry": src.tracking_uri,
        "onepipe.source.version": source.version,
        "onepipe.source.run": source.run_id,
        "onepipe.source.env": src.env,
    }
    query = (
        f"name='{source.name}' and tag.`onepipe.model_hash`='{model_hash}'"
        if model_hash
        else f"name='{source.name}' and tag.`onepipe.source.run`='{source.run_id}'"
    )
    found = dc.search_model_versions(query)
    if found:  # promoted (or trained) there before: the same bytes, the same version
        return str(found[0].version), False
    run = sc.get_run(source.run_id) if source.run_id else None
    tags = dict(run.data.tags) if run else {}
    keep = {k: v for k, v in tags.items() if k.startswith("onepipe.") or k == "mlflow.user"}
    keep.update(origin)
    keep.update({"onepipe.kind": "promotion", "onepipe.user": dst.user, "onepipe.env": dst.env})
    run_name = f"promote-{source.name}-v{source.version}-from-{src.env}"
    new = dc.create_run(experiment_id(dst), tags=keep, run_name=run_name)
    run_id = new.info.run_id
    if run:
        now = run.info.end_time or run.info.start_time or 0
        dc.log_batch(
            run_id,
            params=[Param(k, v) for k, v in run.data.params.items()],
            metrics=[Metric(k, v, now, 0) for k, v in run.data.metrics.items()],
            tags=[RunTag("mlflow.runName", run_name)],
        )
    with tempfile.TemporaryDirectory() as tmp:
        local = mlflow.artifacts.download_artifacts(
            artifact_uri=mv.source, dst_path=str(Path(tmp) / "src"), tracking_uri=src.tracking_uri
        )
        if run:  # the recorded config travels with the model (lineage reads it)
            try:
                cfg = sc.download_artifacts(source.run_id, "onepipe", str(Path(tmp) / "cfg"))
                dc.log_artifacts(run_id, cfg, "onepipe")
            except Exception:  # an older run without it
                pass
        ref, _ = register(dst, run_id, Path(local), model_hash or f"run:{source.run_id}", alias="")
    for key, value in origin.items():
        dc.set_model_version_tag(ref.name, ref.version, key, value)
    dc.set_terminated(run_id, "FINISHED")
    return ref.version, True
