"""Schema checks for a loans frame: the first problem found fails, in one line.

The message names the column, what is wrong, what was expected and the first
few rows, counted from 0 in the frame as read (a store commit's CSV files
concatenated in path order), e.g.::

    column 'annual_income': 3 values below minimum 0 at rows 12, 40, 77 (expected >= 0)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from components.lib import schema
from onepipe.errors import UsageError

MAX_ROWS_SHOWN = 5


class DataValidationError(UsageError, ValueError):
    """Data that does not match the schema; ``column`` and ``rows`` say where."""

    def __init__(self, message: str, column: str | None = None, rows: tuple[int, ...] = ()):
        super().__init__(message)
        self.column = column
        self.rows = rows


def _num(value) -> str:
    value = float(value)
    return str(int(value)) if value.is_integer() else repr(value)


def _fail(column: str, problem: str, positions, expected: str) -> None:
    """Raise for ``positions``; ``{s}`` in ``problem`` becomes the plural ending when due."""
    positions = [int(p) for p in positions]
    shown = ", ".join(str(p) for p in positions[:MAX_ROWS_SHOWN])
    more = (
        f", ... (+{len(positions) - MAX_ROWS_SHOWN} more)"
        if len(positions) > MAX_ROWS_SHOWN
        else ""
    )
    where = f" at row{'s' if len(positions) > 1 else ''} {shown}{more}" if positions else ""
    problem = problem.replace("{s}", "" if len(positions) == 1 else "s")
    raise DataValidationError(
        f"column '{column}': {len(positions)} {problem}{where} ({expected})",
        column=column,
        rows=tuple(positions),
    )


def _quoted(values, limit: int = 3) -> str:
    values = list(dict.fromkeys(values))
    text = ", ".join(repr(v) for v in values[:limit])
    return text + (", ..." if len(values) > limit else "")


def _check_structure(frame: pd.DataFrame) -> None:
    expected = [c.name for c in schema.COLUMNS]
    present = [str(c) for c in frame.columns]
    missing = [c for c in expected if c not in present]
    if missing:
        names = ", ".join(f"'{c}'" for c in missing)
        label = "column" if len(missing) == 1 else "columns"
        raise DataValidationError(
            f"{label} {names}: missing (expected columns: {', '.join(expected)})",
            column=missing[0],
        )
    extra = [c for c in present if c not in expected]
    if extra:
        names = ", ".join(f"'{c}'" for c in extra)
        label = "column" if len(extra) == 1 else "columns"
        raise DataValidationError(
            f"{label} {names}: not in the schema (expected only: {', '.join(expected)})",
            column=extra[0],
        )
    duplicated = sorted({c for c in present if present.count(c) > 1})
    if duplicated:
        raise DataValidationError(
            f"column '{duplicated[0]}': appears {present.count(duplicated[0])} times (expected once)",
            column=duplicated[0],
        )
    if len(frame) == 0:
        raise DataValidationError("data has no rows (expected at least one row)")


def _numeric(values: pd.Series, column: schema.Column) -> pd.Series:
    """The column as float64, failing on anything that is not a number."""
    wanted = "expected integers" if column.kind == "int" else "expected numbers"
    if pd.api.types.is_bool_dtype(values):
        _fail(column.name, "boolean value{s}", np.arange(len(values)), wanted)
    if pd.api.types.is_numeric_dtype(values):
        return values.astype("float64")
    coerced = pd.to_numeric(values, errors="coerce")
    bad = np.flatnonzero(coerced.isna().to_numpy() & values.notna().to_numpy())
    if len(bad):
        example = _quoted(values.iloc[bad])
        _fail(column.name, f"non-numeric value{{s}} {example}", bad, wanted)
    return coerced.astype("float64")


def _check_column(values: pd.Series, column: schema.Column) -> None:
    null = values.isna().to_numpy()
    if not column.nullable and null.any():
        _fail(column.name, "null value{s}", np.flatnonzero(null), "expected no nulls")
    present = ~null

    if column.numeric:
        numbers = _numeric(values, column).to_numpy()
        if column.kind == "int":
            fractional = np.flatnonzero(present & (np.floor(numbers) != numbers))
            if len(fractional):
                _fail(column.name, "non-integer value{s}", fractional, "expected whole numbers")
        if column.minimum is not None:
            low = np.flatnonzero(present & (numbers < column.minimum))
            if len(low):
                m = _num(column.minimum)
                _fail(column.name, f"value{{s}} below minimum {m}", low, f"expected >= {m}")
        if column.maximum is not None:
            high = np.flatnonzero(present & (numbers > column.maximum))
            if len(high):
                m = _num(column.maximum)
                _fail(column.name, f"value{{s}} above maximum {m}", high, f"expected <= {m}")
        if column.allowed:
            outside = np.flatnonzero(present & ~np.isin(numbers, np.asarray(column.allowed, float)))
            if len(outside):
                allowed = ", ".join(_num(v) for v in column.allowed)
                found = ", ".join(_num(v) for v in dict.fromkeys(numbers[outside]))
                _fail(
                    column.name,
                    f"value{{s}} not allowed ({found})",
                    outside,
                    f"expected one of: {allowed}",
                )
        return

    is_text = np.fromiter((isinstance(v, str) for v in values), dtype=bool, count=len(values))
    not_text = np.flatnonzero(present & ~is_text)
    if len(not_text):
        example = _quoted(values.iloc[not_text])
        _fail(column.name, f"non-text value{{s}} {example}", not_text, "expected strings")
    if column.allowed:
        unknown = np.flatnonzero(present & ~values.isin(column.allowed).to_numpy())
        if len(unknown):
            found = _quoted(values.iloc[unknown])
            _fail(
                column.name,
                f"value{{s}} with unknown categories {found}",
                unknown,
                f"expected one of: {', '.join(column.allowed)}",
            )
    if column.role == "id":
        repeated = np.flatnonzero(present & values.duplicated(keep="first").to_numpy())
        if len(repeated):
            found = _quoted(values.iloc[repeated])
            _fail(column.name, f"duplicate id{{s}} {found}", repeated, "expected unique values")


def validate_frame(frame: pd.DataFrame) -> None:
    """Raise ``DataValidationError`` for the first problem; return None when the frame fits."""
    _check_structure(frame)
    for column in schema.COLUMNS:
        _check_column(frame[column.name], column)


def conform(frame: pd.DataFrame) -> pd.DataFrame:
    """A validated frame in schema order with the schema's dtypes and a fresh 0..n-1 index."""
    validate_frame(frame)
    out = pd.DataFrame(index=pd.RangeIndex(len(frame)))
    for column in schema.COLUMNS:
        values = frame[column.name].reset_index(drop=True)
        if column.numeric:
            values = pd.to_numeric(values)
        dtype = schema.PANDAS_DTYPES[column.kind]
        if column.nullable and column.kind == "int":
            dtype = "float64"  # int64 cannot hold a missing value
        out[column.name] = values.astype(dtype)
    return out
