"""One MLflow client per settings; the experiment is created on first use."""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from onepipe.config import Settings

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient

    from onepipe.tracking.target import TrackingTarget


@lru_cache(maxsize=8)
def _client(tracking_uri: str) -> MlflowClient:
    import os

    # Artifact downloads would otherwise draw progress bars through our own output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def client_for(settings: Settings | TrackingTarget) -> MlflowClient:
    """The client for a Settings or TrackingTarget; runs queued in its outbox are written
    first, and (once per process) runs whose writer was killed are closed (leases.py)."""
    if settings.tracking_uri.startswith("sqlite:"):
        path = settings.tracking_uri[len("sqlite:///") :]
        from pathlib import Path

        Path(path).parent.mkdir(parents=True, exist_ok=True)
    client = _client(settings.tracking_uri)
    from onepipe.tracking import leases, outbox

    outbox.drain(settings.outbox_dir, settings.tracking_uri)
    try:
        leases.reap(client, settings.outbox_dir, settings.tracking_uri)
    except Exception:  # noqa: BLE001 - never fail a command over closing someone else's run
        pass
    return client


def experiment_id(settings: Settings | TrackingTarget) -> str:
    client = client_for(settings)
    exp = client.get_experiment_by_name(settings.experiment_name)
    if exp is not None:
        return exp.experiment_id
    # A tracking server decides (and proxies) artifact storage itself; a local store uses ours.
    remote = settings.tracking_uri.startswith(("http://", "https://"))
    try:
        return client.create_experiment(
            settings.experiment_name,
            artifact_location=None if remote else settings.artifact_location,
        )
    except Exception:  # created concurrently by another process (two trials at once)
        exp = client.get_experiment_by_name(settings.experiment_name)
        if exp is None:
            raise
        return exp.experiment_id
