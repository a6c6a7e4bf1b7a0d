"""Prometheus metrics (a private ``CollectorRegistry``, never the global one).

Counters and the latency histogram are fed record by record from the logger's
writer thread (or the CloudEvents ingest), never from the request path. Gauges
(drift, live quality, canary verdict) are recomputed from the store's sliding
window at most every ``monitor.metrics_refresh_s`` seconds, when scraped.

Names (alert rules are written against them):
``onepipe_requests_total{model_name,model_version,alias,status}``,
``onepipe_request_latency_seconds{model_name,model_version,alias}`` (histogram),
``onepipe_feature_drift_psi{model_version,feature}``,
``onepipe_live_metric{model_version,metric}``, ``onepipe_canary_verdict{verdict}``,
``onepipe_canary_waiting_seconds`` (how long the live canary has been routed since the
change that started it, 0 when no challenger gets traffic; the chart alerts above
``monitor.canary.max_wait``).

``metric`` of ``onepipe_live_metric``: ``requests``, ``error_rate``,
``latency_p50_seconds``, ``latency_p99_seconds`` for every version; once feedback
arrived, ``labelled`` and the live metrics of the version's task
(``quality.metrics.LIVE``): binary ``accuracy``, ``precision``, ``recall``, ``f1``;
multiclass ``accuracy``, ``f1_macro``; regression ``rmse``, ``mae``, ``r2``.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from onepipe.monitor.canary import VERDICTS
from onepipe.monitor.report import status
from onepipe.monitor.windows import since_from

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.monitor.protocol import PredictionRecord, PredictionStore

log = logging.getLogger("onepipe.monitor.metrics")
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
CONTENT_TYPE = CONTENT_TYPE_LATEST


class LiveMetrics:
    def __init__(
        self, settings: Settings | None = None, store: PredictionStore | None = None
    ) -> None:
        self.settings = settings
        self.store = store
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "onepipe_requests",
            "Requests answered, per model version and HTTP status.",
            ["model_name", "model_version", "alias", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "onepipe_request_latency_seconds",
            "Gateway latency per request (seconds), per model version.",
            ["model_name", "model_version", "alias"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.drift_psi = Gauge(
            "onepipe_feature_drift_psi",
            "PSI of the live window vs the model version's training profile.",
            ["model_version", "feature"],
            registry=self.registry,
        )
        self.live_metric = Gauge(
            "onepipe_live_metric",
            "Sliding-window metrics per model version (its task's quality metrics from "
            "feedback, error rate, latency).",
            ["model_version", "metric"],
            registry=self.registry,
        )
        self.canary_verdict = Gauge(
            "onepipe_canary_verdict",
            "1 for the current canary verdict, 0 for the others.",
            ["verdict"],
            registry=self.registry,
        )
        for v in VERDICTS:
            self.canary_verdict.labels(verdict=v).set(0)
        self.canary_waiting = Gauge(
            "onepipe_canary_waiting_seconds",
            "Seconds since the deployment change that routes the live canary (0: no canary).",
            registry=self.registry,
        )
        self._refreshed = 0.0
        self._lock = threading.Lock()

    def observe(self, records: list[PredictionRecord]) -> None:
        for r in records:
            labels = (r.model_name, str(r.model_version), r.model_alias or "")
            self.requests.labels(*labels, str(r.status)).inc()
            if r.latency_ms is not None:
                self.latency.labels(*labels).observe(r.latency_ms / 1000.0)

    def update(self, report: dict[str, Any]) -> None:
        """Set the gauges from a ``report.status`` result."""
        self.drift_psi.clear()
        self.live_metric.clear()
        for v in report["versions"]:
            version = v["version"]
            self.live_metric.labels(version, "requests").set(v.get("requests", 0))
            self.live_metric.labels(version, "error_rate").set(v.get("error_rate", 0.0))
            for key, metric in (
                ("latency_p50_ms", "latency_p50_seconds"),
                ("latency_p99_ms", "latency_p99_seconds"),
            ):
                if v.get(key) is not None:
                    self.live_metric.labels(version, metric).set(v[key] / 1000.0)
            for name, value in (v.get("metrics") or {}).items():
                self.live_metric.labels(version, name).set(value)
            for d in v.get("drift", []):
                self.drift_psi.labels(version, d["feature"]).set(d["psi"])
        self.canary_waiting.set(report.get("canary_age_s") or 0.0)
        current = report["canary"]["verdict"]
        for verdict in VERDICTS:
            self.canary_verdict.labels(verdict=verdict).set(1 if verdict == current else 0)

    def refresh(self, force: bool = False) -> None:
        """Recompute the window gauges (rate-limited); errors are logged, never raised."""
        if self.settings is None or self.store is None:
            return
        if not self._lock.acquire(blocking=False):
            return  # another scrape is refreshing
        try:
            every = self.settings.monitor.metrics_refresh_s
            if not force and time.monotonic() - self._refreshed < every:
                return
            self.update(
                status(self.settings, self.store, since_from(None, self.settings.monitor.window))
            )
            self._refreshed = time.monotonic()
        except Exception:
            log.exception("metrics refresh failed")
        finally:
            self._lock.release()

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
