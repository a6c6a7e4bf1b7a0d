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

import time
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import orjson

from onepipe.monitor.protocol import PredictionRecord
from onepipe.monitor.records import v2_inputs, v2_outputs

REQUEST = "io.seldon.serving.inference.request"
RESPONSE = "io.seldon.serving.inference.response"

VersionResolver = Callable[[str], tuple[str, str] | None]  # predictor -> (version, alias)


class CloudEventError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def _time(value: str | None) -> float:
    if not value:
        return time.time()
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00")[:32]).timestamp()
    except ValueError:
        # Go prints nanoseconds: trim the fraction to microseconds
        head, _, rest = value.partition(".")
        frac = "".join(ch for ch in rest if ch.isdigit())[:6]
        try:
            return datetime.fromisoformat(f"{head}.{frac or '0'}+00:00").timestamp()
        except ValueError:
            return time.time()


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
        time=_time(h.get("ce-time")),
        model_name=model_name,
        model_version=version,
        model_alias=alias,
        source="seldon",
    )
    if kind == REQUEST:
        record.inputs, record.n_rows = v2_inputs(body)
        if record.inputs is None:
            raise CloudEventError(400, "body: a request event without V2 'inputs'")
    else:
        record.outputs = v2_outputs(body)
        if record.outputs is None:
            raise CloudEventError(400, "body: a response event without V2 'outputs'")
        record.n_rows = len(record.outputs)
    return record


def resolver_from_history(settings: Any) -> VersionResolver:
    """``main`` -> champion, ``canary`` -> challenger of the last recorded Seldon state."""
    cache: dict[str, Any] = {"at": 0.0, "state": None}

    def resolve(predictor: str) -> tuple[str, str] | None:
        if time.monotonic() - cache["at"] > 10:
            from onepipe.serve.history import open_history

            changes = open_history(settings).list(
                env=settings.env, backend="seldon", model=settings.model_name, limit=1
            )
            cache["state"] = changes[0].state if changes else None
            cache["at"] = time.monotonic()
        state = cache["state"]
        if state is None:
            return None
        if predictor == "main":
            return str(state.champion), "champion"
        if predictor == "canary" and state.challenger:
            return str(state.challenger), "challenger"
        return None

    return resolve
