"""What every V2 request logger's CloudEvents share, whichever serving backend sends them.

A cluster serve backend's ``intake`` (Seldon's, KServe's) reads its own headers (which
event, which request, which version answered); the body of each event is a V2 request
or a V2 response, and ``ce-time`` is RFC 3339 as Go prints it. Those two parts are here.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

from onepipe.monitor.intake import IntakeError
from onepipe.monitor.protocol import PredictionRecord
from onepipe.monitor.records import v2_inputs, v2_outputs


def event_time(value: str | None) -> float:
    """``ce-time`` (RFC 3339, Go prints nanoseconds) as epoch seconds; now when absent or bad."""
    if not value:
        return time.time()
    head, dot, rest = value.strip().replace("Z", "+00:00").partition(".")
    if dot:  # keep microseconds: Python's parser takes at most six digits
        digits = rest[: len(rest) - len(rest.lstrip("0123456789"))]
        head = f"{head}.{digits[:6] or '0'}{rest[len(digits) :]}"
    try:
        stamp = datetime.fromisoformat(head)
    except ValueError:
        return time.time()
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


def fill_from_v2(record: PredictionRecord, is_request: bool, body: dict[str, Any]) -> None:
    """A request event's V2 inputs, or a response event's outputs, into its half of the
    record; ``IntakeError`` (400) when the body holds neither."""
    if is_request:
        record.inputs, record.n_rows = v2_inputs(body)
        if record.inputs is None:
            raise IntakeError(400, "body: a request event without V2 'inputs'")
        if isinstance(body.get("id"), str):
            record.client_id = body["id"]
    else:
        record.outputs = v2_outputs(body)
        if record.outputs is None:
            raise IntakeError(400, "body: a response event without V2 'outputs'")
        record.n_rows = len(record.outputs)
