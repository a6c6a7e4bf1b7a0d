"""One MLflow client per tracking URI; the experiment is created on first use.

Opening a client does nothing else: bringing the store current (queued runs written,
killed runs closed) is the command's first step (pipeline/outbox.py: ``catch_up``).
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

from onepipe.config import Settings
from onepipe.tracking.target import TrackingTarget

if TYPE_CHECKING:
    from mlflow.tracking import MlflowClient


@lru_cache(maxsize=8)
def _client(tracking_uri: str) -> MlflowClient:
    # Artifact downloads would otherwise draw progress bars through our own output.
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    # lazy: a fully cached `onepipe run` loads this module and never opens a client
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)


def client_for(settings: Settings | TrackingTarget) -> MlflowClient:
    """The client for a Settings' or TrackingTarget's store (a SQLite file's folder is made)."""
    if settings.tracking_uri.startswith("sqlite:"):
        path = settings.tracking_uri[len("sqlite:///") :]
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    return _client(settings.tracking_uri)


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
