"""Deterministic generator of the ``loans`` batches shipped in ``data/loans/``.

Synthetic on purpose: no download at run time, no licence question, and we know
the truth the model should recover. Each batch draws from its own seeded stream
so any batch regenerates alone, byte for byte:

    python -m components.lib.dataset            # rewrites data/loans/batch_*.csv
    python -m components.lib.dataset --check    # exit 1 if the shipped files differ

Batches 1-3 share one population; batch 4 is the month the economy turned
(lower incomes, higher rates, more self-employed and contract workers, more
medical and small-business loans) and is what drift monitoring must flag.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from components.lib import schema

BASE_SEED = 20240601
ROWS_PER_BATCH = 2500
BATCHES = (1, 2, 3, 4)
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "data" / "loans"


@dataclass(frozen=True)
class Population:
    """What differs between the stable months and the shifted one."""

    employment_p: tuple[float, ...] = (0.62, 0.14, 0.16, 0.08)  # schema.EMPLOYMENT_TYPES order
    purpose_p: tuple[float, ...] = (0.38, 0.20, 0.12, 0.10, 0.06, 0.05, 0.05, 0.04)
    log_income_shift: float = 0.0
    credit_score_shift: float = 0.0
    rate_shift: float = 0.0


STABLE = Population()
SHIFTED = Population(
    employment_p=(0.44, 0.24, 0.22, 0.10),
    purpose_p=(0.30, 0.14, 0.06, 0.06, 0.14, 0.14, 0.12, 0.04),
    log_income_shift=np.log(0.78),
    credit_score_shift=-18.0,
    rate_shift=3.0,
)
POPULATIONS = {1: STABLE, 2: STABLE, 3: STABLE, 4: SHIFTED}

# Median loan size by purpose, USD, in schema.PURPOSES order.
PURPOSE_LOAN_MEDIAN = (15000, 8000, 20000, 18000, 6000, 25000, 12000, 5000)
EMPLOYMENT_LOG_INCOME = (0.0, 0.05, -0.10, -1.0)
EMPLOYMENT_RISK = (0.0, 0.25, 0.35, 0.9)
HOME_RISK = {"rent": 0.0, "own": -0.3, "mortgage": -0.15}
PURPOSE_RISK = (0.0, 0.05, -0.1, -0.2, 0.35, 0.5, 0.2, 0.1)
TERMS = np.array([12, 24, 36, 48, 60])


def _categorical(rng: np.random.Generator, options: tuple, probs: np.ndarray) -> np.ndarray:
    """One draw per row from row-specific probabilities (``probs`` is rows x options)."""
    cumulative = np.cumsum(probs, axis=1)
    u = rng.random(len(probs))[:, None]
    index = np.minimum((u > cumulative).sum(axis=1), len(options) - 1)
    return np.asarray(options, dtype=object)[index]


def generate_batch(batch: int, rows: int = ROWS_PER_BATCH) -> pd.DataFrame:
    """Batch ``batch`` (1-based) of loan applications with their outcome."""
    pop = POPULATIONS.get(batch, STABLE)
    rng = np.random.Generator(np.random.PCG64(np.random.SeedSequence([BASE_SEED, batch])))
    n = rows

    region = _categorical(rng, schema.REGIONS, np.tile([0.18, 0.21, 0.38, 0.23], (n, 1)))
    age = np.clip(np.round(rng.normal(42, 12, n)), 18, 80).astype(np.int64)
    emp_idx = rng.choice(len(schema.EMPLOYMENT_TYPES), size=n, p=pop.employment_p)
    employment = np.asarray(schema.EMPLOYMENT_TYPES, dtype=object)[emp_idx]

    # Ownership grows with age: renters young, outright owners old.
    years = age - 18
    p_own = 0.05 + 0.005 * years
    p_mortgage = np.minimum(0.20 + 0.012 * years, 0.50)
    home = _categorical(
        rng, schema.HOME_OWNERSHIP, np.column_stack([1 - p_own - p_mortgage, p_own, p_mortgage])
    )

    centred_age = age - 40
    log_income = (
        np.log(52000)
        + 0.012 * centred_age
        - 0.0004 * centred_age**2
        + np.asarray(EMPLOYMENT_LOG_INCOME)[emp_idx]
        + rng.normal(0, 0.45, n)
        + pop.log_income_shift
    )
    income = np.clip(np.round(np.exp(log_income), -2), 6000, 1_000_000)

    credit = 680 + 55 * rng.standard_normal(n) + 25 * (log_income - np.log(52000))
    credit += 0.8 * centred_age + pop.credit_score_shift
    credit = np.clip(np.round(credit), 300, 850).astype(np.int64)

    late = np.minimum(rng.poisson(np.exp(-0.5 - (credit - 680) / 60)), 20).astype(np.int64)
    accounts = np.minimum(rng.poisson(3 + 0.06 * years), 40).astype(np.int64)
    dti = np.clip(rng.beta(2, 6, n) * 0.8 + 0.01 * accounts, 0, 0.95).round(3)

    purpose_idx = rng.choice(len(schema.PURPOSES), size=n, p=pop.purpose_p)
    purpose = np.asarray(schema.PURPOSES, dtype=object)[purpose_idx]
    loan = (
        np.asarray(PURPOSE_LOAN_MEDIAN, dtype=float)[purpose_idx]
        * (income / 52000) ** 0.35
        * np.exp(rng.normal(0, 0.45, n))
    )
    loan = np.clip(np.round(loan / 50) * 50, 1000, 50000)

    term_idx = np.round(2 + 1.2 * np.log(loan / 12000) + rng.normal(0, 0.8, n))
    term = TERMS[np.clip(term_idx, 0, len(TERMS) - 1).astype(np.int64)]

    # Lenders price risk, so the rate carries part of the credit signal.
    rate = 6.0 + 0.04 * (750 - credit) + 0.02 * term + 1.5 * (late > 0) + rng.normal(0, 1.2, n)
    rate = np.clip(rate + pop.rate_shift, 3.0, 36.0).round(2)

    # The true risk: a logistic model plus an unobserved factor, so no model reaches AUC 1.
    logit = (
        -2.7
        - 0.016 * (credit - 680)
        + 2.2 * (dti - 0.25)
        + 3.0 * (loan / income - 0.25)
        + 0.09 * (rate - 12)
        + 0.25 * np.minimum(late, 5)
        + np.asarray(EMPLOYMENT_RISK)[emp_idx]
        + np.vectorize(HOME_RISK.get)(home)
        + np.asarray(PURPOSE_RISK)[purpose_idx]
        + 0.008 * (term - 36)
        - 0.01 * centred_age
        + rng.normal(0, 0.4, n)
    )
    default = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)

    frame = pd.DataFrame(
        {
            "application_id": [f"LN-{batch}-{i:05d}" for i in range(1, n + 1)],
            "age": age,
            "annual_income": income,
            "employment_type": employment,
            "home_ownership": home,
            "region": region,
            "purpose": purpose,
            "loan_amount": loan,
            "loan_term_months": term,
            "interest_rate": rate,
            "credit_score": credit,
            "num_open_accounts": accounts,
            "num_late_payments_2y": late,
            "debt_to_income": dti,
            "default": default,
        }
    )
    return frame[[c.name for c in schema.COLUMNS]]


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    # Fixed line ending and shortest float repr keep the bytes platform-independent.
    return frame.to_csv(index=False, lineterminator="\n").encode("utf-8")


def write_batches(dest: Path = DEFAULT_DIR, batches=BATCHES) -> list[Path]:
    dest.mkdir(parents=True, exist_ok=True)
    written = []
    for batch in batches:
        path = dest / f"batch_{batch}.csv"
        path.write_bytes(to_csv_bytes(generate_batch(batch)))
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m components.lib.dataset", description=__doc__)
    parser.add_argument("--dest", type=Path, default=DEFAULT_DIR)
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args(argv)
    if args.check:
        stale = [
            f"batch_{b}.csv"
            for b in BATCHES
            if not (args.dest / f"batch_{b}.csv").is_file()
            or (args.dest / f"batch_{b}.csv").read_bytes() != to_csv_bytes(generate_batch(b))
        ]
        print(f"differs: {', '.join(stale)}" if stale else "all batches match")
        return 1 if stale else 0
    for path in write_batches(args.dest):
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
