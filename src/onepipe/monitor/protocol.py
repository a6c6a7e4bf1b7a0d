"""``PredictionStore``: where every logged request, its answer and its ground truth live.

One record per answered request and model version (a shadowed request yields two).
``inputs`` is columnar (``{column: [values]}``, one value per row of the request),
``outputs`` one value per row; ``truth`` (from feedback) one value per row too.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

COLUMNS = (
    "request_id",
    "time",
    "model_name",
    "model_version",
    "model_alias",
    "shadow",
    "status",
    "latency_ms",
    "n_rows",
    "inputs",
    "outputs",
    "source",
    "client_id",
)


@dataclass
class PredictionRecord:
    request_id: str
    time: float  # epoch seconds (UTC)
    model_name: str
    model_version: str
    model_alias: str = ""
    shadow: bool = False
    status: int = 200
    latency_ms: float | None = None
    n_rows: int = 0
    inputs: dict[str, list] | None = None
    outputs: list | None = None
    source: str = "gateway"  # gateway, or the serve backend whose intake logged it
    # The V2 ``id`` a client chose for its request: data, never the key (``request_id``
    # is the log's own id, the one the answer returns and feedback names).
    client_id: str | None = None
    truth: list | None = field(default=None, compare=False)  # filled by queries (feedback join)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class PredictionStore(Protocol):
    def write_batch(self, records: list[PredictionRecord]) -> int:
        """Insert (or complete: a later record fills the missing inputs/outputs) records."""
        ...

    def add_feedback(self, request_id: str, truth: list) -> bool:
        """Attach the true value(s) to a logged request; False when the id is unknown."""
        ...

    def query(
        self,
        *,
        model_name: str | None = None,
        model_version: str | None = None,
        since: float | None = None,
        until: float | None = None,
        request_ids: list[str] | None = None,
        include_shadow: bool = True,
        limit: int | None = None,
    ) -> list[PredictionRecord]:
        """Records joined with feedback, oldest first (``limit`` keeps the newest)."""
        ...

    def window(
        self, *, model_name: str | None = None, since: float | None = None
    ) -> list[dict[str, Any]]:
        """Per model version: requests, errors, latencies (ms) and labelled pairs, no inputs."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...
