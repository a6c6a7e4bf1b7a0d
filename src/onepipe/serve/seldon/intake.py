"""Seldon's request logger, mounted by the monitor service (this backend's ``intake`` hook).

Each predictor's ``logger.url`` (``serve.seldon.monitor_url``) points at
``/api/v1/seldon`` of ``onepipe monitor serve``; ``cloudevents`` turns each posted
event into a record, the predictor mapped to its version by the deployment history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from onepipe.monitor.intake import EventIntake
from onepipe.monitor.protocol import PredictionRecord
from onepipe.serve.seldon.cloudevents import resolver_from_history, to_record

if TYPE_CHECKING:
    from onepipe.config import Settings

PATH = "/api/v1/seldon"


def intake(settings: Settings) -> EventIntake:
    resolve = resolver_from_history(settings)  # reads the history at the first event

    def record(headers: Mapping[str, str], raw: bytes) -> PredictionRecord:
        return to_record(headers, raw, settings.model_name, resolve)

    return EventIntake(PATH, record)
