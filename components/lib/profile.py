"""The training features' reference profile, saved inside the MLflow model directory.

Drift monitoring compares live requests against it (``onepipe.monitor.drift``);
being a file of the model directory, it is an artifact of the registered model
version and does not change how MLflow or MLServer load the model.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from components.lib import schema


def write_profile(frame: pd.DataFrame, model_dir: str | Path) -> Path:
    """Profile the raw feature columns (and the label rate) of ``frame`` into ``model_dir``."""
    from onepipe.monitor.profile import build_profile, save_profile

    profile = build_profile(
        frame,
        numeric=schema.NUMERIC_FEATURES,
        categorical=schema.CATEGORICAL_FEATURES,
        label=schema.LABEL,
    )
    return save_profile(profile, model_dir)
