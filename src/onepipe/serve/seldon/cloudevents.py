"""Seldon Core's request logger: CloudEvents (binary mode, ``ce-*`` headers) -> records.

Seldon's executor posts each request and each response separately to the
predictor's ``logger.url`` (here the monitor service's ``/api/v1/seldon``):

- ``ce-type``: ``io.seldon.serving.inference.request`` or ``...inference.response``
- ``ce-id`` / ``ce-requestid``: the request id (the same for a request and its response)
- ``ce-source``, ``ce-specversion``, ``ce-time``
- ``ce-modelid`` (graph node), ``ce-inferenceservicename`` (the SeldonDeployment),
  ``ce-namespace``, ``ce-endpoint`` (the predictor: ``main`` or ``canary`` here)

The body is the V2 request or response. The predictor name is mapped to the model
version through the deployment state (``main`` -> champion, ``canary`` ->
challenger); a response body's ``model_version`` is used when no state is known.
The two halves are joined by the store (same request id and version).
Seldon does not report latency; CloudEvents records carry none.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import orjson

from onepipe.history import latest_state
from onepipe.monitor.intake import IntakeError
from onepipe.monitor.logged_events import event_time, fill_from_v2
from onepipe.monitor.protocol import PredictionRecord
from onepipe.serve.seldon import NAME

REQUEST = "io.seldon.serving.inference.request"
RESPONSE = "io.seldon.serving.inference.response"

VersionResolver = Callable[[str], tuple[str, str] | None]  # predictor -> (version, alias)


class CloudEventError(IntakeError):
    """A body or header Seldon's logger would not send (answered 400, naming it)."""


def to_record(
    headers: Mapping[str, str], raw: bytes, model_name: str, resolve: VersionResolver | None = None
) -> PredictionRecord:
    h = {k.lower(): v for k, v in headers.items()}
    kind = h.get("ce-type", "")
    if kind not in (REQUEST, RESPONSE):
        raise CloudEventError(
            400, f"ce-type: {kind or 'missing'!s} (expected {REQUEST} or {RESPONSE})"
        )
    request_id = h.get("ce-requestid") or h.get("ce-id")
    if not request_id:
        raise CloudEventError(400, "ce-id: missing (the request id Seldon's logger sends)")
    try:
        body = orjson.loads(raw) if raw.strip() else None
    except orjson.JSONDecodeError:
        raise CloudEventError(
            400, "body: not valid JSON (expected a V2 request or response)"
        ) from None
    if not isinstance(body, dict):
        raise CloudEventError(400, "body: expected a JSON object (a V2 request or response)")
    predictor = h.get("ce-endpoint") or h.get("ce-modelid") or ""
    resolved = resolve(predictor) if resolve else None
    if resolved is None:
        version = str(body.get("model_version") or predictor or "unknown")
        alias = predictor
    else:
        version, alias = resolved
    record = PredictionRecord(
        request_id=request_id,
        time=event_time(h.get("ce-time")),
        model_name=model_name,
        model_version=version,
        model_alias=alias,
        source=NAME,
    )
    fill_from_v2(record, kind == REQUEST, body)
    return record


def resolver_from_history(settings: Any) -> VersionResolver:
    """``main`` -> champion, ``canary`` -> challenger of the last recorded Seldon state."""
    current = latest_state(settings, NAME)

    def resolve(predictor: str) -> tuple[str, str] | None:
        state = current()
        if state is None:
            return None
        if predictor == "main":
            return str(state.champion), "champion"
        if predictor == "canary" and state.challenger:
            return str(state.challenger), "challenger"
        return None

    return resolve
