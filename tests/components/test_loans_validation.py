"""Bad data fails validation with one line naming the column, the problem and the rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from components.lib import schema
from components.lib.validation import DataValidationError, conform, validate_frame
from onepipe.errors import OnepipeError


@pytest.fixture()
def frame(read_batches) -> pd.DataFrame:
    return read_batches(1).head(200).copy()


def _message(frame: pd.DataFrame) -> DataValidationError:
    with pytest.raises(DataValidationError) as info:
        validate_frame(frame)
    error = info.value
    assert "\n" not in str(error)
    return error


def test_shipped_frame_passes_and_conforms(frame):
    assert validate_frame(frame) is None
    out = conform(frame.sample(frac=1.0, random_state=0))
    assert list(out.columns) == [c.name for c in schema.COLUMNS]
    assert out.index.equals(pd.RangeIndex(len(frame)))
    assert out["age"].dtype == np.int64 and out["annual_income"].dtype == np.float64
    assert pd.api.types.is_string_dtype(out["purpose"])


def test_below_minimum_names_column_rows_and_bound(frame):
    frame.loc[[12, 40, 77], "annual_income"] = -5.0
    error = _message(frame)
    assert str(error) == (
        "column 'annual_income': 3 values below minimum 0 at rows 12, 40, 77 (expected >= 0)"
    )
    assert error.column == "annual_income" and error.rows == (12, 40, 77)
    assert isinstance(error, ValueError) and isinstance(error, OnepipeError)


def test_above_maximum(frame):
    frame.loc[5, "credit_score"] = 900
    assert str(_message(frame)) == (
        "column 'credit_score': 1 value above maximum 850 at row 5 (expected <= 850)"
    )


def test_nulls_list_the_first_rows_and_how_many_more(frame):
    rows = [3, 8, 9, 20, 21, 22, 150]
    frame.loc[rows, "debt_to_income"] = np.nan
    assert str(_message(frame)) == (
        "column 'debt_to_income': 7 null values at rows 3, 8, 9, 20, 21, ... (+2 more)"
        " (expected no nulls)"
    )


def test_null_in_a_text_column(frame):
    frame.loc[4, "region"] = None
    assert str(_message(frame)).startswith("column 'region': 1 null value at row 4")


def test_unknown_category_names_the_values_and_the_allowed_ones(frame):
    frame.loc[[2, 9], "employment_type"] = ["retired", "student"]
    assert str(_message(frame)) == (
        "column 'employment_type': 2 values with unknown categories 'retired', 'student'"
        " at rows 2, 9 (expected one of: salaried, self_employed, contract, unemployed)"
    )


def test_missing_column(frame):
    message = str(_message(frame.drop(columns=["credit_score"])))
    assert message.startswith("column 'credit_score': missing (expected columns: application_id,")


def test_extra_column(frame):
    frame["favourite_colour"] = "blue"
    message = str(_message(frame))
    assert message.startswith("column 'favourite_colour': not in the schema (expected only:")


def test_wrong_dtype_text_in_a_numeric_column(frame):
    frame["age"] = frame["age"].astype(object)
    frame.loc[[1, 6], "age"] = ["forty", "n/a"]
    assert str(_message(frame)) == (
        "column 'age': 2 non-numeric values 'forty', 'n/a' at rows 1, 6 (expected integers)"
    )


def test_wrong_dtype_fraction_in_an_integer_column(frame):
    frame["loan_term_months"] = frame["loan_term_months"].astype(float)
    frame.loc[11, "loan_term_months"] = 36.5
    assert str(_message(frame)) == (
        "column 'loan_term_months': 1 non-integer value at row 11 (expected whole numbers)"
    )


def test_wrong_dtype_numbers_in_a_text_column(frame):
    frame["purpose"] = frame["purpose"].astype(object)
    frame.loc[0, "purpose"] = 7
    assert str(_message(frame)).startswith("column 'purpose': 1 non-text value 7 at row 0")


def test_label_outside_zero_one(frame):
    frame.loc[[30, 31], "default"] = 2
    assert str(_message(frame)) == (
        "column 'default': 2 values not allowed (2) at rows 30, 31 (expected one of: 0, 1)"
    )


def test_duplicate_application_ids(frame):
    frame.loc[50, "application_id"] = frame.loc[10, "application_id"]
    message = str(_message(frame))
    assert message.startswith("column 'application_id': 1 duplicate id 'LN-1-00011' at row 50")


def test_empty_frame(frame):
    assert "no rows" in str(_message(frame.head(0)))


def test_whole_numbers_read_as_floats_are_accepted(frame):
    frame["age"] = frame["age"].astype(float)
    out = conform(frame)
    assert out["age"].dtype == np.int64
