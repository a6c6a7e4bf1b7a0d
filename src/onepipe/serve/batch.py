"""Batch scoring (static predictions): a data commit in, a predictions commit out.

The model is loaded exactly as the server loads it: the registry version's local
artifacts through ``mlserver_mlflow.MLflowRuntime``, fed a V2 request built by
the gateway's own validation. The output commit's provenance is the input
commit and the model version (``models:/name/version``); its message and
``prediction-meta.json`` name the model version and run too.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from onepipe.data import open_store, read_table
from onepipe.errors import UsageError
from onepipe.serve.gateway.validation import RequestError, instances_to_v2
from onepipe.serve.mlserver import model_settings
from onepipe.serve.models import ServedModel, served_model
from onepipe.tracking.model_code import forget_shadowing_modules
from onepipe.tracking.registry import resolve_model

if TYPE_CHECKING:
    import pandas as pd

    from onepipe.config import Settings

BATCH_ROWS = 5000


async def _predict(model: ServedModel, frame: pd.DataFrame) -> list[Any]:
    # lazy: MLServer and its MLflow runtime take seconds to import; `onepipe predict` checks
    # the model and the input commit before it pays for them
    from mlserver.settings import ModelParameters, ModelSettings
    from mlserver.types import InferenceRequest
    from mlserver_mlflow import MLflowRuntime

    cfg = model_settings(model)
    runtime = MLflowRuntime(
        ModelSettings(
            name=cfg["name"],
            implementation=MLflowRuntime,
            parameters=ModelParameters(**cfg["parameters"]),
        )
    )
    forget_shadowing_modules(model.path)
    await runtime.load()
    names = [c.name for c in model.columns]
    out: list[Any] = []
    for start in range(0, len(frame), BATCH_ROWS):
        part = frame.iloc[start : start + BATCH_ROWS][names]
        rows = json.loads(part.to_json(orient="records"))
        try:
            payload, _ = instances_to_v2({"instances": rows}, model.columns, len(rows))
        except RequestError as err:
            where = err.message.replace("instances[", "row ", 1)
            raise UsageError(
                f"input does not match {model.name}/{model.version}'s signature: {where}"
            ) from None
        response = await runtime.predict(InferenceRequest.model_validate(payload))
        data = response.outputs[0].data
        values = data.root if hasattr(data, "root") else data
        out.extend(v[0] if isinstance(v, list) and len(v) == 1 else v for v in values)
    return out


def score_commit(
    settings: Settings, spec: str, data_ref: str, *, output_repo: str = "predictions"
) -> dict[str, Any]:
    ref = resolve_model(settings, spec)
    model = served_model(settings, ref)
    store = open_store(settings)
    commit = store.resolve(data_ref)
    frame = read_table(store, commit.ref)
    missing = [c.name for c in model.columns if c.name not in frame.columns]
    if missing:
        raise UsageError(
            f"{commit.repo}@{commit.short}: missing column(s) {', '.join(missing)} "
            f"(expected {model.name}/{model.version}'s inputs: "
            f"{', '.join(c.name for c in model.columns)})"
        )
    if frame.empty:
        raise UsageError(f"{commit.repo}@{commit.short}: no rows to score")
    predictions = asyncio.run(_predict(model, frame))
    inputs = {c.name for c in model.columns}
    result = frame[[c for c in frame.columns if c not in inputs]].copy()
    result["prediction"] = predictions
    result["model_version"] = model.version
    meta = {
        "model": model.name,
        "version": model.version,
        "uri": model.uri,
        "run_id": model.run_id,
        "source": model.source,
        "input": commit.ref,
        "rows": len(result),
    }
    with tempfile.TemporaryDirectory() as tmp:
        out_csv = Path(tmp) / "predictions.csv"
        result.to_csv(out_csv, index=False)
        (Path(tmp) / "prediction-meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        new = store.put(
            output_repo,
            [out_csv, Path(tmp) / "prediction-meta.json"],
            provenance=[commit.ref, f"models:/{model.name}/{model.version}"],
            replace=True,
            message=f"predictions of {model.name}/{model.version} ({model.uri}, run "
            f"{model.run_id}) on {commit.ref}",
        )
    return {**meta, "output": new.ref, "provenance": list(new.provenance)}
