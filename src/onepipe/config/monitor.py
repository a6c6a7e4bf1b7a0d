"""The ``monitor:`` section of onepipe.yaml (prediction log, drift, canary analysis)."""

from __future__ import annotations

from pydantic import Field

from onepipe.config.base import Section


class DriftThresholds(Section):
    """Per-feature drift against the model version's training profile."""

    psi_warn: float = Field(0.1, gt=0)  # PSI at or above: warn
    psi_alert: float = Field(0.25, gt=0)  # PSI at or above: alert
    ks_pvalue: float = Field(0.01, gt=0, lt=1)  # numeric: KS p below this (and PSI >= warn): alert
    chi2_pvalue: float = Field(0.01, gt=0, lt=1)  # categorical: reported next to PSI
    min_rows: int = Field(100, ge=1)  # fewer live rows in the window: no drift verdict
    max_rows: int = Field(1_000_000, ge=1000)  # newest rows read per window (a cap, not a sample)


class CanaryThresholds(Section):
    """Challenger vs champion on the same window."""

    min_samples: int = Field(200, ge=1)  # labelled rows per arm before quality decides
    alpha: float = Field(0.05, gt=0, lt=1)  # two-sided test level on the accuracy difference
    margin: float = Field(0.02, ge=0, lt=1)  # promote when accuracy is at most this much worse
    min_requests: int = Field(50, ge=1)  # requests per arm before the guards decide
    max_error_rate_increase: float = Field(0.02, ge=0, le=1)  # challenger - champion error rate
    max_p99_ratio: float = Field(1.5, gt=0)  # challenger p99 latency / champion p99


class MonitorConfig(Section):
    """Prediction log + live metrics + drift + canary verdicts."""

    enabled: bool = True  # the gateway logs every request and mounts /feedback, /metrics
    # A SQLite path (relative to the project) or postgresql://... for a shared setup.
    store_url: str = ".onepipe/predictions.db"
    window: str = "1h"  # default sliding window: 30m, 1h, 1d ...
    batch_size: int = Field(500, ge=1)  # the logger writes this many records at once
    flush_interval_s: float = Field(0.5, gt=0)  # ... or whatever it holds after this long
    queue_size: int = Field(100_000, ge=1)  # a full queue drops (and counts) records
    metrics_refresh_s: float = Field(15.0, ge=0)  # /metrics recomputes windows at most this often
    host: str = "0.0.0.0"  # `onepipe monitor serve` (the cluster path)
    port: int = Field(8080, ge=0, le=65535)
    drift: DriftThresholds = Field(default_factory=DriftThresholds)
    canary: CanaryThresholds = Field(default_factory=CanaryThresholds)
