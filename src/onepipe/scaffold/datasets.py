"""Data batches for a new project, made from a dataset scikit-learn ships (no download).

Each batch is a fresh sample of the dataset's rows (drawn with replacement, the
non-integer features jittered by a few percent of their spread), so batches
differ the way monthly extracts do. The last batch is shifted: its first
``SHIFTED`` features move by ``SHIFT`` standard deviations, which the drift
check flags and which retraining on it fixes. Deterministic for a seed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd

LABEL = "target"
BATCHES = 4
ROWS = 1000
JITTER = 0.03  # of each feature's standard deviation
SHIFTED = 3
SHIFT = 0.8  # standard deviations


@dataclass(frozen=True)
class Dataset:
    task: str
    loader: str  # sklearn.datasets function
    title: str
    label_meaning: str


DATASETS: dict[str, Dataset] = {
    "binary": Dataset(
        "binary",
        "load_breast_cancer",
        "Breast Cancer Wisconsin (diagnostic), 569 cases, 30 numeric features",
        "1 = benign, 0 = malignant",
    ),
    "multiclass": Dataset(
        "multiclass",
        "load_wine",
        "Wine recognition, 178 wines, 13 chemical measurements",
        "the cultivar, 0, 1 or 2",
    ),
    "regression": Dataset(
        "regression",
        "load_diabetes",
        "Diabetes, 442 patients, 10 baseline measurements",
        "disease progression one year after baseline (25 to 346)",
    ),
}


def base_frame(task: str) -> pd.DataFrame:
    """The dataset as one frame: snake_case feature columns and the ``target`` label."""
    # lazy: scikit-learn takes ~1 s to import; `onepipe init` checks its arguments first
    import sklearn.datasets

    spec = DATASETS[task]
    loader = getattr(sklearn.datasets, spec.loader)
    kwargs = {"scaled": False} if spec.loader == "load_diabetes" else {}
    bunch = loader(as_frame=True, **kwargs)
    frame = bunch.frame.rename(columns=_snake)
    frame = frame.rename(columns={_snake(bunch.target.name): LABEL})
    return frame


def _snake(name: str) -> str:
    return re.sub(r"[^0-9a-z]+", "_", str(name).lower()).strip("_")


def make_batches(task: str, *, seed: int = 7, batches: int = BATCHES, rows: int = ROWS):
    """``batches`` frames of ``rows`` rows; the last one shifted (drift)."""
    base = base_frame(task)
    rng = np.random.default_rng(seed)
    features = [c for c in base.columns if c != LABEL]
    spread = base[features].std(ddof=0).replace(0, 1.0)
    continuous = [c for c in features if not np.all(base[c] == np.round(base[c]))]
    out = []
    for index in range(batches):
        sample = base.iloc[rng.choice(len(base), size=rows, replace=True)].reset_index(drop=True)
        for column in continuous:
            noise = rng.normal(0.0, JITTER * spread[column], size=rows)
            sample[column] = (sample[column] + noise).round(4)
        if index == batches - 1:
            for column in continuous[:SHIFTED]:
                sample[column] = (sample[column] + SHIFT * spread[column]).round(4)
        out.append(sample)
    return out


def write_batches(task: str, folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for number, frame in enumerate(make_batches(task), start=1):
        path = folder / f"batch_{number}.csv"
        frame.to_csv(path, index=False)
        paths.append(path)
    return paths
