"""``POST /feedback``: the true value(s) of a logged request, joined to its prediction.

Body: ``{"request_id": "<id from the prediction's answer>", "truth": 1}`` — or a
list with one value per row of a multi-row request. ``id`` is accepted for
``request_id``. The id is the log's own (the ``id`` the answer returned), never a
V2 ``id`` the client chose for its request. Each value must fit the model that
answered (``labels.py``: one of its classes, or a finite number for regression).
Answers: 200 joined, 400 not JSON / not an object, 404 unknown request id, 422 a
missing, ill-typed or impossible field (the message names it and what was expected).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson

from onepipe.monitor.labels import LabelError, LabelRule
from onepipe.monitor.protocol import PredictionStore

MAX_ID = 256  # characters in a request id (the log's own are 32)


class FeedbackError(Exception):
    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.field = status, message, field

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"error": self.message}
        if self.field:
            out["field"] = self.field
        return out


def _scalar(value: Any) -> bool:
    return isinstance(value, int | float | str | bool) and value is not None


def parse(raw: bytes) -> tuple[str, list]:
    if not raw.strip():
        raise FeedbackError(400, 'body: empty (expected {"request_id": "...", "truth": value})')
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise FeedbackError(400, "body: not valid JSON") from None
    if not isinstance(body, dict):
        raise FeedbackError(
            400,
            f'body: expected a JSON object {{"request_id", "truth"}}, found {type(body).__name__}',
        )
    request_id = body.get("request_id", body.get("id"))
    if request_id is None:
        raise FeedbackError(
            422, "request_id: missing (the id the prediction answered with)", "request_id"
        )
    if not isinstance(request_id, str) or not request_id.strip():
        raise FeedbackError(422, "request_id: expected a non-empty string", "request_id")
    if len(request_id) > MAX_ID or not request_id.isprintable():
        raise FeedbackError(
            422,
            f"request_id: expected the id a prediction answered with (at most {MAX_ID} "
            "printable characters)",
            "request_id",
        )
    if "truth" not in body:
        raise FeedbackError(
            422, "truth: missing (the true value, or a list with one per row)", "truth"
        )
    truth = body["truth"]
    values = truth if isinstance(truth, list) else [truth]
    if not values:
        raise FeedbackError(422, "truth: empty list (expected one value per row)", "truth")
    for i, v in enumerate(values):
        if not _scalar(v):
            where = f"truth[{i}]" if isinstance(truth, list) else "truth"
            raise FeedbackError(
                422,
                f"{where}: expected a number, string or boolean, found {type(v).__name__}",
                where,
            )
    return request_id, values


def fit(truth: list, rule: LabelRule) -> list:
    """Each value as the model's label (``1.0`` -> class ``1``), or FeedbackError naming it."""
    out = []
    for i, value in enumerate(truth):
        try:
            out.append(rule.check(value))
        except LabelError as exc:
            where = f"truth[{i}]" if len(truth) > 1 else "truth"
            raise FeedbackError(422, f"{where}: {exc}", where) from None
    return out


def record_feedback(
    store: PredictionStore,
    raw: bytes,
    rules: Callable[[str], LabelRule] | None = None,
) -> dict[str, Any]:
    """Validate and store; raises ``FeedbackError`` with the HTTP status to answer.

    ``rules``: version -> what its labels may be (``labels.LabelRules``); None
    checks only that each value is a scalar.
    """
    request_id, truth = parse(raw)
    logged = store.query(request_ids=[request_id])
    if not logged:
        raise FeedbackError(
            404,
            f"request_id {request_id!r}: no logged prediction with this id (expected the id "
            "the prediction answered with, not one the client chose)",
            "request_id",
        )
    rows = max(r.n_rows for r in logged)
    if rows and len(truth) != rows:
        raise FeedbackError(
            422,
            f"truth: {len(truth)} value(s) for a request of {rows} row(s) (expected one per row)",
            "truth",
        )
    if rules is not None:  # judged by the version that answered (a shadow only listened)
        for version in dict.fromkeys(r.model_version for r in logged if not r.shadow):
            truth = fit(truth, rules(version))
    if not store.add_feedback(request_id, truth):  # removed meanwhile
        raise FeedbackError(404, f"request_id {request_id!r}: no logged prediction with this id")
    return {
        "request_id": request_id,
        "rows": len(truth),
        "joined": [r.model_version for r in logged],
    }
