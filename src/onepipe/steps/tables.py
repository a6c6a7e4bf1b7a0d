"""Tables between steps: read a data commit, pass frames as parquet, check and split them."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from onepipe.steps.context import context

if TYPE_CHECKING:
    import pandas as pd

# How many offending row numbers an error names before "...".
SHOWN_ROWS = 5


def _path(artifact: Any) -> str:
    """A KFP artifact's local path, or a plain path."""
    return str(getattr(artifact, "path", artifact))


def read_data(data_store: str, data_ref: str) -> tuple[pd.DataFrame, str]:
    """Every table of one data commit as one frame, and the commit (``repo@<id>``) read.

    ``data_store`` is the pipeline input the runner fills in; ``data_ref`` a ref like
    ``loans@master``. The ref is resolved once, so a branch moving meanwhile is not read.
    """
    # lazy: the data store (and its backends) stays off `import onepipe.steps`; only ingest
    # steps read a commit
    from onepipe.data import open_store_uri
    from onepipe.data import read_table as read_commit

    store = open_store_uri(data_store)
    commit = store.resolve(data_ref)
    return read_commit(store, commit.ref).reset_index(drop=True), commit.ref


def write_table(frame: pd.DataFrame, artifact: Any, **metadata: Any) -> None:
    """Write ``frame`` as parquet to a KFP ``Output[Dataset]`` (rows and columns recorded)."""
    path = _path(artifact)
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    frame.to_parquet(path, index=False)
    meta = getattr(artifact, "metadata", None)
    if meta is not None:
        meta.update(rows=len(frame), columns=int(frame.shape[1]), **metadata)


def read_table(artifact: Any) -> pd.DataFrame:
    """The frame behind a KFP ``Input[Dataset]`` written by ``write_table``."""
    import pandas as pd  # lazy: pandas stays off `import onepipe.steps`

    return pd.read_parquet(_path(artifact))


def _rows(index: Any) -> str:
    rows = [str(i) for i in list(index)[:SHOWN_ROWS]]
    return ", ".join(rows) + (", ..." if len(index) > SHOWN_ROWS else "")


def check_frame(
    frame: pd.DataFrame,
    *,
    label: str | None = None,
    features: list[str] | None = None,
    allow_nulls: bool = False,
    task: str | None = None,
) -> pd.DataFrame:
    """Refuse data a model cannot be trained on, with one line naming column and rows.

    Checks: the label column (``label`` or the context's) exists; every listed
    feature exists; no nulls unless ``allow_nulls``; a regression label is numeric;
    a classification label has at least two classes. Returns ``frame`` unchanged.
    """
    import pandas as pd  # lazy: pandas stays off `import onepipe.steps`

    ctx = context()
    label = label or ctx.label
    task = task or ctx.task
    if frame.empty:
        raise ValueError("the table has no rows (expected at least one)")
    if label is not None and label not in frame.columns:
        raise ValueError(
            f"label column {label!r} is missing (columns: {', '.join(map(str, frame.columns))})"
        )
    missing = [c for c in features or () if c not in frame.columns]
    if missing:
        raise ValueError(f"feature columns missing: {', '.join(missing)}")
    if not allow_nulls:
        for column in frame.columns:
            nulls = frame.index[frame[column].isna()]
            if len(nulls):
                raise ValueError(
                    f"column {column!r}: {len(nulls)} null values at rows {_rows(nulls)} "
                    "(expected no nulls)"
                )
    if label is not None:
        y = frame[label]
        if task == "regression" and not pd.api.types.is_numeric_dtype(y):
            raise ValueError(f"label column {label!r}: expected numbers for a regression task")
        if task in ("binary", "multiclass") and y.nunique(dropna=True) < 2:
            raise ValueError(
                f"label column {label!r}: one class only ({y.iloc[0]!r}); expected at least two"
            )
        if task == "binary" and y.nunique(dropna=True) > 2:
            raise ValueError(
                f"label column {label!r}: {y.nunique()} classes for a binary task (expected 2)"
            )
    return frame


def split(
    frame: pd.DataFrame,
    *,
    label: str | None = None,
    test_size: float = 0.25,
    seed: int = 0,
    task: str | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train and test parts; stratified by the label for a classification task."""
    from sklearn.model_selection import train_test_split  # lazy: off `import onepipe.steps`

    if not 0.0 < float(test_size) < 1.0:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size}")
    ctx = context()
    label = label or ctx.label
    task = task or ctx.task
    stratify = frame[label] if label is not None and task in ("binary", "multiclass") else None
    train, test = train_test_split(
        frame, test_size=float(test_size), random_state=int(seed), stratify=stratify
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)
