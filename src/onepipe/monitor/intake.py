"""Events a serve backend feeds the prediction log (``Backend.intake`` in onepipe.plugins).

A cluster serve backend's request logger posts what its model servers answered to the
monitor service. Its registry line names a function ``intake(settings) -> EventIntake``:
the path it posts to and how one posted body becomes a ``PredictionRecord``. The
monitor service mounts every registered serve backend's intake (``intakes``) and does
the HTTP part itself: the body limit, the 202, the log.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from onepipe import plugins
from onepipe.monitor.protocol import PredictionRecord

if TYPE_CHECKING:
    from onepipe.config import Settings


class IntakeError(Exception):
    """An event the intake refuses: answered with ``status`` and ``{"error": message}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True)
class EventIntake:
    path: str  # where the backend's logger posts, e.g. "/api/v1/seldon"
    # (request headers, raw body) -> the record; raises IntakeError. Runs off the event loop.
    to_record: Callable[[Mapping[str, str], bytes], PredictionRecord]


def intakes(settings: Settings) -> list[EventIntake]:
    """The intake of every serve backend that has one, in registry order."""
    return [make(settings) for _line, make in plugins.hooks("intake", "serve")]
