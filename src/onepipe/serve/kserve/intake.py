"""KServe's request logger, mounted by the monitor service (this backend's ``intake`` hook).

The predictor's ``logger.url`` (``serve.kserve.monitor_url``) points at
``/api/v1/kserve`` of ``onepipe monitor serve``; ``cloudevents`` turns each posted
event into a record, its version and role told by the revision's annotation and the
deployment history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from onepipe.monitor.intake import EventIntake
from onepipe.monitor.protocol import PredictionRecord
from onepipe.serve.kserve.cloudevents import state_from_history, to_record
from onepipe.serve.kserve.names import INTAKE_PATH, deployment_name

if TYPE_CHECKING:
    from onepipe.config import Settings


def intake(settings: Settings) -> EventIntake:
    current = state_from_history(settings)  # reads the history at the first event
    service = deployment_name(settings)

    def record(headers: Mapping[str, str], raw: bytes) -> PredictionRecord:
        return to_record(headers, raw, settings.model_name, service, current)

    return EventIntake(INTAKE_PATH, record)
