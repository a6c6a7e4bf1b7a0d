"""KServe's request logger: CloudEvents (binary mode, ``ce-*`` headers) -> records.

The logger (KServe's agent beside each predictor pod) posts each request and each
answered (HTTP 200) response separately to ``predictor.logger.url``, here the monitor
service's ``/api/v1/kserve``:

- ``ce-type``: ``org.kubeflow.serving.inference.request`` or ``...inference.response``
- ``ce-id``: the request id, the same for a request and its response (the caller's own
  ``Ce-Id`` header when it sent one, else one the logger made up)
- ``ce-source`` (the pod), ``ce-specversion``, ``ce-time``
- ``ce-inferenceservicename``, ``ce-namespace``, ``ce-component`` (``predictor``),
  ``ce-endpoint`` (``default`` for every revision: it cannot tell a canary apart)
- ``ce-annotations``: JSON of the pod annotations ``logger.metadataAnnotations`` names;
  here ``onepipe.dev/model-version``, the version that revision serves (render.py)
- ``ce-metadata``: JSON of the request headers ``logger.metadataHeaders`` names (unused)

The body is the V2 request or response. The version comes from ``ce-annotations``,
else a response's ``model_version``, else, while a single version serves, the
champion; the deployment history filed under ``kserve`` says which role it plays.
The store joins the two halves (same request id and version). The logger reports
no latency: these records carry none.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from onepipe.history import CHALLENGER, CHAMPION, DeploymentState, latest_state
from onepipe.monitor.intake import IntakeError
from onepipe.monitor.logged_events import event_time, fill_from_v2
from onepipe.monitor.protocol import PredictionRecord
from onepipe.serve.kserve import NAME
from onepipe.serve.kserve.names import SERVED_VERSION

REQUEST = "org.kubeflow.serving.inference.request"
RESPONSE = "org.kubeflow.serving.inference.response"
PREDICTOR = "predictor"
HISTORY_TTL_S = 10.0  # how long the last recorded deployment is trusted before reading it again

# The deployment state the history holds now (None: nothing recorded for kserve).
StateSource = Callable[[], DeploymentState | None]


def _header_json(value: str | None) -> dict[str, Any]:
    """A JSON object from a ``ce-*`` extension header; newer CloudEvents SDKs percent-encode
    the quotes in it. Anything else: empty."""
    if not value:
        return {}
    for text in (value, unquote(value)):
        try:
            found = json.loads(text)
        except ValueError:
            continue
        return found if isinstance(found, dict) else {}
    return {}


def resolve(version: str | None, state: DeploymentState | None) -> tuple[str, str] | None:
    """(version, role) of the revision that answered, or None when it cannot be told."""
    if not version:
        if state is None or state.challenger is not None:
            return None  # two versions serve: without the revision's annotation, unknown
        version = state.champion
    if state is not None and version == state.champion:
        return version, CHAMPION
    if state is not None and version == state.challenger:
        return version, CHALLENGER
    return version, ""  # a version the last change no longer routes to (a late event)


def to_record(
    headers: Mapping[str, str],
    raw: bytes,
    model_name: str,
    service: str,
    current: StateSource,
) -> PredictionRecord:
    """One logged event -> one half of a record; ``IntakeError`` (400) naming what is wrong."""
    h = {k.lower(): v for k, v in headers.items()}
    kind = h.get("ce-type", "")
    if kind not in (REQUEST, RESPONSE):
        raise IntakeError(400, f"ce-type: {kind or 'missing'} (expected {REQUEST} or {RESPONSE})")
    request_id = h.get("ce-id")
    if not request_id:
        raise IntakeError(400, "ce-id: missing (the request id KServe's logger sends)")
    for header, expected in (("ce-inferenceservicename", service), ("ce-component", PREDICTOR)):
        if h.get(header) and h[header] != expected:
            raise IntakeError(
                400, f"{header}: {h[header]} (expected {expected}: this project's InferenceService)"
            )
    try:
        body = json.loads(raw) if raw.strip() else None
    except ValueError:
        raise IntakeError(400, "body: not valid JSON (expected a V2 request or response)") from None
    if not isinstance(body, dict):
        raise IntakeError(400, "body: expected a JSON object (a V2 request or response)")
    served = _header_json(h.get("ce-annotations")).get(SERVED_VERSION) or body.get("model_version")
    resolved = resolve(str(served) if served else None, current())
    if resolved is None:
        raise IntakeError(
            400,
            f"ce-annotations: no {SERVED_VERSION} while two versions serve: cannot tell which "
            "answered (expected the logger.metadataAnnotations onepipe renders)",
        )
    record = PredictionRecord(
        request_id=request_id,
        time=event_time(h.get("ce-time")),
        model_name=model_name,
        model_version=resolved[0],
        model_alias=resolved[1],
        source=NAME,
    )
    fill_from_v2(record, kind == REQUEST, body)
    return record


def state_from_history(settings: Any) -> StateSource:
    """The last deployment change filed under ``kserve`` for this environment and model,
    read at the first event and again once it is ``HISTORY_TTL_S`` old."""
    return latest_state(settings, NAME, HISTORY_TTL_S)
