"""The monitor's HTTP surface: ``/metrics``, ``/feedback``, serve backends' events, health.

Mounted in-process on the gateway (app/gateway.py: one port on a laptop, same store)
and served alone by ``onepipe monitor serve`` for the cluster path, where each cluster
serve backend's request logger posts to its intake (``monitor.intake``).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from onepipe.monitor.feedback import FeedbackError, record_feedback
from onepipe.monitor.intake import EventIntake, IntakeError, intakes
from onepipe.monitor.journal import Journal, replay
from onepipe.monitor.labels import LabelRules
from onepipe.monitor.logger import PredictionLogger
from onepipe.monitor.metrics import CONTENT_TYPE, LiveMetrics
from onepipe.monitor.store import open_store

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.monitor.protocol import PredictionStore

log = logging.getLogger("onepipe.monitor.service")
MAX_BODY = 8 * 1024 * 1024


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data), status_code=status, media_type="application/json")


class Monitor:
    """Store + background logger + metrics, and the routes that expose them."""

    def __init__(
        self,
        settings: Settings,
        store: PredictionStore | None = None,
    ) -> None:
        cfg = settings.monitor
        self.settings = settings
        journal_dir = settings.path(cfg.journal_dir)
        if store is None:
            self.store = open_store(settings)  # replays what a killed writer left
        else:
            self.store = store
            replay(journal_dir, store)
        self.metrics = LiveMetrics(settings, self.store)
        self.logger = PredictionLogger(
            self.store,
            batch_size=cfg.batch_size,
            flush_interval_s=cfg.flush_interval_s,
            queue_size=cfg.queue_size,
            on_records=self.metrics.observe,
            journal=Journal(journal_dir, sync_interval_s=cfg.sync_interval_s),
        )
        self.labels = LabelRules(settings)

    # ---- endpoints ----------------------------------------------------------
    async def metrics_endpoint(self, request: Request) -> Response:
        await asyncio.to_thread(self.metrics.refresh)
        return Response(self.metrics.exposition(), media_type=CONTENT_TYPE)

    async def _raw(self, request: Request) -> bytes:
        body = await request.body()
        if len(body) > MAX_BODY:
            raise FeedbackError(413, f"body: more than {MAX_BODY} bytes")
        return body

    async def feedback(self, request: Request) -> Response:
        try:
            raw = await self._raw(request)
            result = await asyncio.to_thread(record_feedback, self.store, raw, self.labels)
        except FeedbackError as err:
            return _json(err.to_dict(), err.status)
        return _json(result)

    def intake_route(self, intake: EventIntake) -> Route:
        """``POST intake.path``: one event of a serve backend's logger into the log (202)."""

        async def event(request: Request) -> Response:
            try:
                raw = await self._raw(request)
                record = await asyncio.to_thread(intake.to_record, request.headers, raw)
            except (IntakeError, FeedbackError) as err:
                return _json({"error": err.message}, err.status)
            self.logger.submit(record)
            return _json({"accepted": record.request_id}, 202)

        return Route(intake.path, event, methods=["POST"])

    async def health(self, request: Request) -> Response:
        journal = self.logger.journal.stats if self.logger.journal else None
        return _json({"live": True, "log": self.logger.stats, "journal": journal})

    def routes(self, prefix: str = "") -> list[Route]:
        return [
            Route("/metrics", self.metrics_endpoint, methods=["GET"]),
            Route("/feedback", self.feedback, methods=["POST"]),
            *(self.intake_route(intake) for intake in intakes(self.settings)),
            Route(f"{prefix}/health", self.health, methods=["GET"]),
        ]

    def close(self) -> None:
        """Drain the log (nothing queued is lost on a clean shutdown), then close the store."""
        self.logger.close()
        self.store.close()


def build_app(monitor: Monitor) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Any):
        try:
            yield
        finally:
            await asyncio.to_thread(monitor.close)

    return Starlette(routes=monitor.routes(), lifespan=lifespan)


def serve(settings: Settings, host: str | None = None, port: int | None = None) -> None:
    """``onepipe monitor serve``: the monitor service alone (cluster path), in the foreground."""
    monitor = Monitor(settings)
    uvicorn.run(
        build_app(monitor),
        host=host or settings.monitor.host,
        port=settings.monitor.port if port is None else port,
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=10,
    )
