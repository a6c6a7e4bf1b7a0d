"""The ``monitor:`` section of onepipe.yaml (prediction log, drift, canary analysis)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator

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
    """Challenger vs champion on the same window, compared on a per-row loss."""

    min_samples: int = Field(200, ge=1)  # labelled rows per arm before quality decides
    # The per-row loss both arms are judged on: auto = the primary metric's own loss
    # (rmse -> squared_error, mae -> absolute_error), else zero_one for a classifier and
    # squared_error for a regressor. log_loss needs answers that are probabilities.
    loss: Literal["auto", "zero_one", "log_loss", "squared_error", "absolute_error"] = "auto"
    # One-sided level of each test: rollback when the challenger is worse at this level,
    # promote when "worse by at least the margin" is rejected at this level.
    alpha: float = Field(0.05, gt=0, lt=1)
    # Relative to the champion's mean loss: 0.1 promotes a challenger shown to be at most
    # 10% worse (an error rate of 0.20 -> 0.22, an MSE of 2500 -> 2750). Smaller needs more
    # labelled rows; 0 promotes only a challenger shown to be better.
    margin: float = Field(0.1, ge=0, lt=1)
    min_requests: int = Field(50, ge=1)  # requests per arm before the guards decide
    max_error_rate_increase: float = Field(0.02, ge=0, le=1)  # challenger - champion error rate
    max_p99_ratio: float = Field(1.5, gt=0)  # challenger p99 latency / champion p99
    # A canary routed this long without a decision (promote or rollback): the cluster's
    # alert fires (the Helm chart's OnepipeCanaryWaiting rule on onepipe_canary_waiting_seconds).
    max_wait: str = Field("1d", pattern=r"^[0-9]+(s|m|h|d)$")


class LiveQualityAlert(Section):
    """The cluster's live-quality alert: the Helm chart's Prometheus rule and dashboard panel.

    ``metric`` is one of the metrics the monitor exports live (``onepipe_live_metric``,
    ``quality.metrics.LIVE``); unset, the first of the project's metrics that is live for
    its task, else the task's first live metric. The rule fires when that metric is worse
    than ``threshold`` (below it for a maximize metric, above it for rmse/mae) for ``for``.
    """

    metric: str | None = None
    threshold: float | None = None  # None: no alert rule is rendered
    for_: str = Field("30m", alias="for", pattern=r"^[0-9]+(s|m|h)$")

    @field_validator("metric")
    @classmethod
    def _live(cls, value: str | None) -> str | None:
        from onepipe.quality.metrics import LIVE  # lazy: keeps numpy off `onepipe --help`

        live = sorted({m for names in LIVE.values() for m in names})
        if value is not None and value not in live:
            raise ValueError(
                f"expected a metric the monitor computes live ({', '.join(live)}), found {value!r}"
            )
        return value


class MonitorConfig(Section):
    """Prediction log + live metrics + drift + canary verdicts."""

    enabled: bool = True  # the gateway logs every request and mounts /feedback, /metrics
    # A SQLite path (relative to the project) or postgresql://... for a shared setup.
    store_url: str = ".onepipe/predictions.db"
    window: str = "1h"  # default sliding window: 30m, 1h, 1d ...
    batch_size: int = Field(500, ge=1)  # the logger writes this many records at once
    flush_interval_s: float = Field(0.5, gt=0)  # ... or whatever it holds after this long
    queue_size: int = Field(100_000, ge=1)  # a full queue drops (and counts) records
    # Every answer is appended to a local journal before it goes out (a SIGKILL loses
    # none); fsynced this often: a power cut loses at most this many seconds of answers.
    journal_dir: str = ".onepipe/prediction-journal"
    sync_interval_s: float = Field(1.0, gt=0)
    metrics_refresh_s: float = Field(15.0, ge=0)  # /metrics recomputes windows at most this often
    # `onepipe monitor serve` (the cluster path): loopback unless set; the Helm chart passes
    # --host 0.0.0.0 in its pod, where the Service and the NetworkPolicy decide who reaches it.
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    drift: DriftThresholds = Field(default_factory=DriftThresholds)
    canary: CanaryThresholds = Field(default_factory=CanaryThresholds)
    alert: LiveQualityAlert = Field(default_factory=LiveQualityAlert)
