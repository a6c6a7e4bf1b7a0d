"""The reference profile: what the training features looked like, stored with the model.

Written at training time as ``reference_profile.json`` inside the saved MLflow model
directory, so it is an artifact of the registered model version and travels with it.

Numeric feature: cut points at the 1st..99th percentiles (duplicates removed, so
a discrete column gets one bin per value), counts of the training rows per fine
bin, and the decile cut points (a subset of the fine ones) for PSI.
Categorical feature: the training categories and their counts.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import mlflow.artifacts
import numpy as np
import pandas as pd

from onepipe.errors import NotFoundError
from onepipe.tracking.registry import resolve_model

if TYPE_CHECKING:
    from onepipe.config import Settings

FILENAME = "reference_profile.json"
FORMAT = 1


def _numeric(values: np.ndarray) -> dict[str, Any]:
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {"rows": 0, "edges": [], "coarse": [], "counts": [0]}
    qs = np.quantile(values, np.linspace(0.01, 0.99, 99))
    edges = np.unique(qs)
    coarse = np.unique(qs[9::10])  # deciles: exactly a subset of ``edges``
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=edges.size + 1)
    return {
        "rows": int(values.size),
        "edges": edges.tolist(),
        "coarse": coarse.tolist(),
        "counts": counts.tolist(),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "min": float(values.min()),
        "max": float(values.max()),
    }


def _categorical(values: Any) -> dict[str, Any]:
    counts = pd.Series(values).astype("string").value_counts(dropna=True)
    return {
        "rows": int(counts.sum()),
        "categories": [str(c) for c in counts.index],
        "counts": [int(c) for c in counts.to_numpy()],
    }


def build_profile(
    frame: pd.DataFrame,
    *,
    numeric: list[str] | tuple[str, ...],
    categorical: list[str] | tuple[str, ...],
    label: str | None = None,
) -> dict[str, Any]:
    profile: dict[str, Any] = {
        "format": FORMAT,
        "rows": int(len(frame)),
        "numeric": {c: _numeric(frame[c].to_numpy(dtype=float)) for c in numeric},
        "categorical": {c: _categorical(frame[c]) for c in categorical},
    }
    if label is not None and label in frame:
        profile["label"] = {"name": label, "mean": float(frame[label].mean())}
    return profile


def save_profile(profile: dict[str, Any], directory: str | Path) -> Path:
    path = Path(directory) / FILENAME
    path.write_text(json.dumps(profile, indent=1), encoding="utf-8")
    return path


def load_profile(path: str | Path) -> dict[str, Any]:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("format") != FORMAT:
        raise ValueError(
            f"{path}: reference profile format {data.get('format')!r} (expected {FORMAT})"
        )
    return data


_CACHE: dict[tuple[str, str, str], dict[str, Any]] = {}


def profile_for_version(settings: Settings, model: str, version: str) -> dict[str, Any]:
    """The reference profile stored with a registered model version (cached per process)."""
    key = (settings.tracking_uri, model, str(version))
    if key in _CACHE:
        return _CACHE[key]
    ref = resolve_model(settings, f"{model}/{version}")
    with tempfile.TemporaryDirectory() as tmp:
        try:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=f"{ref.source.rstrip('/')}/{FILENAME}",
                dst_path=tmp,
                tracking_uri=settings.tracking_uri,
            )
        except Exception as exc:  # noqa: BLE001 - MLflow raises several types for a missing file
            raise NotFoundError(
                f"{model}/{version}: no {FILENAME} stored with the model "
                f"(trained before profiles were written? retrain it) [{type(exc).__name__}]"
            ) from None
        profile = load_profile(local)
    _CACHE[key] = profile
    return profile
