"""The shipped loans batches: reproducible, valid, realistic and drifting where promised."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp

from components.lib import dataset, schema
from components.lib.validation import validate_frame

BATCHES = (1, 2, 3, 4)
SHIFTED = ("annual_income", "interest_rate", "credit_score")


@pytest.fixture(scope="module")
def batches(read_batches):
    return {b: read_batches(b) for b in BATCHES}


@pytest.mark.parametrize("batch", BATCHES)
def test_generation_reproduces_the_shipped_bytes(batch):
    shipped = (dataset.DEFAULT_DIR / f"batch_{batch}.csv").read_bytes()
    assert dataset.to_csv_bytes(dataset.generate_batch(batch)) == shipped


def test_main_check_reports_match(capsys):
    assert dataset.main(["--check"]) == 0
    assert "all batches match" in capsys.readouterr().out


def test_main_writes_identical_files(tmp_path):
    assert dataset.main(["--dest", str(tmp_path)]) == 0
    for b in BATCHES:
        name = f"batch_{b}.csv"
        assert (tmp_path / name).read_bytes() == (dataset.DEFAULT_DIR / name).read_bytes()


def test_batches_match_the_schema_and_carry_unique_ids(batches):
    for frame in batches.values():
        assert len(frame) == dataset.ROWS_PER_BATCH
        assert list(frame.columns) == [c.name for c in schema.COLUMNS]
        validate_frame(frame)
    ids = np.concatenate([f[schema.ID].to_numpy() for f in batches.values()])
    assert len(set(ids)) == len(ids)


def test_label_rate_is_plausible_and_rises_in_the_shifted_batch(batches):
    stable = [batches[b][schema.LABEL].mean() for b in (1, 2, 3)]
    assert all(0.15 < r < 0.25 for r in stable)
    assert batches[4][schema.LABEL].mean() > max(stable) + 0.05


def test_every_category_occurs(batches):
    for column in schema.CATEGORICAL_FEATURES:
        seen = set(batches[1][column])
        assert seen == set(schema.BY_NAME[column].allowed), column


def _psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    e = np.histogram(np.clip(expected, edges[0], edges[-1]), edges)[0] / len(expected)
    a = np.histogram(np.clip(actual, edges[0], edges[-1]), edges)[0] / len(actual)
    e, a = np.maximum(e, 1e-4), np.maximum(a, 1e-4)
    return float(np.sum((a - e) * np.log(a / e)))


def test_batch_4_drifts_clearly_from_each_earlier_batch(batches):
    for column in SHIFTED:
        for b in (1, 2, 3):
            assert ks_2samp(batches[b][column], batches[4][column]).pvalue < 1e-6, (column, b)
    assert (
        _psi(batches[1]["interest_rate"].to_numpy(), batches[4]["interest_rate"].to_numpy()) > 0.5
    )
    assert (
        _psi(batches[1]["annual_income"].to_numpy(), batches[4]["annual_income"].to_numpy()) > 0.2
    )
    employment = batches[4]["employment_type"].value_counts(normalize=True)
    assert employment["salaried"] < 0.5
    purpose = batches[4]["purpose"].value_counts(normalize=True)
    assert purpose["small_business"] > 0.1 and purpose["medical"] > 0.1


def test_batches_1_to_3_share_one_distribution(batches):
    for column in schema.NUMERIC_FEATURES:
        for a, b in ((1, 2), (1, 3), (2, 3)):
            x, y = batches[a][column].to_numpy(), batches[b][column].to_numpy()
            assert ks_2samp(x, y).pvalue > 1e-3, (column, a, b)
            assert _psi(x, y) < 0.05, (column, a, b)
