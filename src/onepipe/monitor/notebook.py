"""``Project.predictions()`` and ``Project.replay()``: the prediction log in a notebook."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

import pandas as pd

from onepipe.errors import UsageError
from onepipe.monitor.windows import since_from
from onepipe.tracking.registry import load_pyfunc

if TYPE_CHECKING:
    from onepipe.config import Settings
    from onepipe.monitor.protocol import PredictionRecord, PredictionStore

META = (
    "request_id",
    "time",
    "model_name",
    "model_version",
    "model_alias",
    "shadow",
    "status",
    "latency_ms",
)


def _since(since: Any) -> float | None:
    if since is None:
        return None
    if isinstance(since, datetime):
        return since.timestamp()
    if isinstance(since, int | float):
        return float(since)
    return since_from(str(since), "1h")


def _model(settings: Settings, model: str | None) -> tuple[str, str | None]:
    if model is None:
        return settings.model_name, None
    model = str(model)
    if model.isdigit():
        return settings.model_name, model
    name, _, version = model.partition("/")
    return name, version or None


def records_frame(records: list[PredictionRecord]) -> pd.DataFrame:
    """One row per scored row: request metadata, the input columns, prediction and truth."""
    rows: list[dict[str, Any]] = []
    for r in records:
        n = max(r.n_rows, len(r.outputs or []), 1)
        inputs = r.inputs or {}
        for i in range(n):
            row: dict[str, Any] = {k: getattr(r, k) for k in META}
            row["row"] = i
            for col, values in inputs.items():
                row[col] = values[i] if i < len(values) else None
            row["prediction"] = r.outputs[i] if r.outputs and i < len(r.outputs) else None
            row["truth"] = r.truth[i] if r.truth and i < len(r.truth) else None
            rows.append(row)
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["time"] = pd.to_datetime(frame["time"], unit="s", utc=True)
    return frame


def predictions(
    settings: Settings,
    store: PredictionStore,
    *,
    model: str | None = None,
    since: Any = None,
    limit: int | None = None,
    include_shadow: bool = True,
) -> pd.DataFrame:
    name, version = _model(settings, model)
    records = store.query(
        model_name=name,
        model_version=version,
        since=_since(since),
        limit=limit,
        include_shadow=include_shadow,
    )
    return records_frame(records)


def replay(
    settings: Settings, store: PredictionStore, request_ids: list[str] | str, *, model: str
) -> pd.DataFrame:
    """Score logged requests again with any registered version (in-process pyfunc)."""
    ids = [request_ids] if isinstance(request_ids, str) else list(request_ids)
    records = [r for r in store.query(request_ids=ids) if not r.shadow] or store.query(
        request_ids=ids
    )
    found = {r.request_id for r in records}
    missing = [i for i in ids if i not in found]
    if missing:
        raise UsageError(f"replay: no logged request with id {', '.join(map(repr, missing[:5]))}")
    seen: set[str] = set()
    records = [r for r in records if not (r.request_id in seen or seen.add(r.request_id))]
    if any(not r.inputs for r in records):
        bad = [r.request_id for r in records if not r.inputs]
        raise UsageError(f"replay: request(s) {', '.join(bad[:5])} were logged without inputs")
    ref, loaded = load_pyfunc(settings, model)
    frame = records_frame(records)
    columns = list(records[0].inputs)
    answers = loaded.predict(frame[columns])
    answers = answers.tolist() if hasattr(answers, "tolist") else list(answers)
    out = frame[["request_id", "row", "model_version", "prediction", "truth"]].rename(
        columns={"model_version": "logged_version", "prediction": "logged_prediction"}
    )
    out["replay_version"] = str(ref.version)
    out["replay_prediction"] = answers
    out["same"] = [str(a) == str(b) for a, b in zip(out["logged_prediction"], answers, strict=True)]
    return out.reset_index(drop=True)
