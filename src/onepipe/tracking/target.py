"""Where and as what a run is tracked: the slice of Settings tracking needs.

A plain, JSON-serialisable value so a queued run (outbox) can be written to
MLflow later by another process without re-reading any configuration.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class TrackingTarget:
    tracking_uri: str
    experiment_name: str
    artifact_location: str
    outbox_dir: str
    model_name: str
    env: str
    config_hash: str
    config: dict[str, Any] = field(
        default_factory=dict, compare=False
    )  # saved as onepipe/config.json

    @classmethod
    def from_settings(cls, settings) -> TrackingTarget:
        return cls(
            tracking_uri=settings.tracking_uri,
            experiment_name=settings.experiment_name,
            artifact_location=settings.artifact_location,
            outbox_dir=str(settings.outbox_dir),
            model_name=settings.model_name,
            env=settings.env,
            config_hash=settings.config_hash,
            config=settings.saved(),
        )

    def to_json(self) -> dict[str, Any]:
        return asdict(self)
