"""Feature engineering, kept inside the model so the served model takes raw columns.

Everything a pickled pipeline references lives at module level here: the saved
model carries this package as code and a fresh process re-imports it by name.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder

from components.lib import schema

DERIVED_FEATURES = ("loan_to_income", "payment_to_income", "has_late_payments")


def monthly_payment(amount, annual_rate_percent, term_months):
    """Annuity instalment; a zero rate degenerates to straight division."""
    r = np.asarray(annual_rate_percent, dtype=float) / 1200.0
    n = np.asarray(term_months, dtype=float)
    amount = np.asarray(amount, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        annuity = amount * r / (1.0 - (1.0 + r) ** -n)
    return np.where(r > 0, annuity, amount / np.maximum(n, 1.0))


def add_derived_features(frame: pd.DataFrame) -> pd.DataFrame:
    """Raw columns plus the ratios underwriters read first (affordability, not size)."""
    out = frame.copy()
    # A zero income is valid input; the floor keeps the ratios finite.
    income = np.maximum(out["annual_income"].to_numpy(dtype=float), 1000.0)
    payment = monthly_payment(out["loan_amount"], out["interest_rate"], out["loan_term_months"])
    out["loan_to_income"] = out["loan_amount"].to_numpy(dtype=float) / income
    out["payment_to_income"] = payment * 12.0 / income
    out["has_late_payments"] = (out["num_late_payments_2y"].to_numpy() > 0).astype(float)
    return out


def build_preprocessor() -> Pipeline:
    """Raw frame -> numeric matrix. Categories come from the schema, so the encoding
    does not depend on which categories a batch happens to contain."""
    categorical = list(schema.CATEGORICAL_FEATURES)
    encoder = OneHotEncoder(
        categories=[list(schema.BY_NAME[c].allowed) for c in categorical],
        handle_unknown="ignore",
        sparse_output=False,
    )
    columns = ColumnTransformer(
        [
            ("numeric", "passthrough", list(schema.NUMERIC_FEATURES) + list(DERIVED_FEATURES)),
            ("categorical", encoder, categorical),
        ],
        remainder="drop",
        verbose_feature_names_out=False,
    )
    derive = FunctionTransformer(add_derived_features, feature_names_out=derived_feature_names)
    return Pipeline([("derive", derive), ("columns", columns)])


def derived_feature_names(transformer, input_features):
    return np.asarray(list(input_features) + list(DERIVED_FEATURES), dtype=object)


def split(frame: pd.DataFrame, test_size: float, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stratified by the label so both parts keep the default rate; raw columns only."""
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be between 0 and 1 (exclusive), got {test_size}")
    columns = [schema.ID, *schema.FEATURES, schema.LABEL]
    train, test = train_test_split(
        frame[columns], test_size=test_size, random_state=seed, stratify=frame[schema.LABEL]
    )
    return train.reset_index(drop=True), test.reset_index(drop=True)


def features_and_label(frame: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    return frame[list(schema.FEATURES)], frame[schema.LABEL].to_numpy(dtype=np.int64)
