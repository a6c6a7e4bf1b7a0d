"""Turn a gateway ``on_response`` event or a V2 payload into a ``PredictionRecord``."""

from __future__ import annotations

import uuid
from typing import Any

from onepipe.monitor.protocol import PredictionRecord


def v2_inputs(payload: Any) -> tuple[dict[str, list] | None, int]:
    """V2 request ``{"inputs": [{name, shape, data}]}`` -> (columnar inputs, row count)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("inputs"), list):
        return None, 0
    columns: dict[str, list] = {}
    rows = 0
    for item in payload["inputs"]:
        if not isinstance(item, dict) or "name" not in item:
            continue
        data = item.get("data")
        if isinstance(data, list) and data and isinstance(data[0], list):  # [[v], [v]] shapes
            data = [d[0] if len(d) == 1 else d for d in data]
        columns[str(item["name"])] = data if isinstance(data, list) else [data]
        rows = max(rows, len(columns[str(item["name"])]))
    return columns or None, rows


def v2_outputs(response: Any) -> list | None:
    """The first output tensor's values, one per row (``[[v], ...]`` flattened)."""
    if not isinstance(response, dict) or not isinstance(response.get("outputs"), list):
        return None
    outputs = response["outputs"]
    if not outputs or not isinstance(outputs[0], dict):
        return None
    data = outputs[0].get("data")
    if not isinstance(data, list):
        return None
    return [v[0] if isinstance(v, list) and len(v) == 1 else v for v in data]


def from_event(event: dict[str, Any]) -> PredictionRecord:
    """One gateway event (see ``Gateway._event``) -> one record."""
    response = event.get("response")
    status = int(event.get("status", 200))
    # The log's own id (the gateway's, or the logger's); older events named it in the answer.
    request_id = event.get("request_id")
    if not request_id and isinstance(response, dict):
        request_id = response.get("id")
    inputs, rows = v2_inputs(event.get("request"))
    client_id = event.get("client_id")
    return PredictionRecord(
        request_id=str(request_id or uuid.uuid4()),
        time=float(event.get("time") or 0.0),
        model_name=str(event.get("model_name", "")),
        model_version=str(event.get("model_version", "")),
        model_alias=str(event.get("model_alias") or ""),
        shadow=bool(event.get("shadow", False)),
        status=status,
        latency_ms=event.get("latency_ms"),
        n_rows=rows,
        inputs=inputs,
        outputs=v2_outputs(response) if status == 200 else None,
        source=str(event.get("source", "gateway")),
        client_id=client_id if isinstance(client_id, str) else None,
    )
