"""The loans table, declared once.

Validation conforms incoming data to these columns and dtypes, and the trained
model's MLflow signature is inferred from that conformed frame, so the two can
never disagree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["int", "float", "category", "id"]
Role = Literal["id", "feature", "label"]

# pandas dtype a validated frame carries (the served model's signature follows from it).
PANDAS_DTYPES: dict[str, str] = {"int": "int64", "float": "float64", "category": "str", "id": "str"}


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    role: Role = "feature"
    minimum: float | None = None
    maximum: float | None = None
    allowed: tuple = ()  # categories for "category" columns, the label's values
    nullable: bool = False
    description: str = ""

    @property
    def numeric(self) -> bool:
        return self.kind in ("int", "float")


EMPLOYMENT_TYPES = ("salaried", "self_employed", "contract", "unemployed")
HOME_OWNERSHIP = ("rent", "own", "mortgage")
PURPOSES = (
    "debt_consolidation",
    "credit_card",
    "home_improvement",
    "car",
    "medical",
    "small_business",
    "education",
    "other",
)
REGIONS = ("northeast", "midwest", "south", "west")

# Ranges are what a sane application can carry, wider than what the generator
# draws, so a shifted batch still validates and only broken data fails.
COLUMNS: tuple[Column, ...] = (
    Column("application_id", "id", role="id", description="unique id of the application"),
    Column("age", "int", minimum=18, maximum=100, description="applicant age in years"),
    Column("annual_income", "float", minimum=0, maximum=10_000_000, description="gross, USD"),
    Column("employment_type", "category", allowed=EMPLOYMENT_TYPES),
    Column("home_ownership", "category", allowed=HOME_OWNERSHIP),
    Column("region", "category", allowed=REGIONS),
    Column("purpose", "category", allowed=PURPOSES),
    Column("loan_amount", "float", minimum=500, maximum=100_000, description="requested, USD"),
    Column("loan_term_months", "int", minimum=6, maximum=120),
    Column("interest_rate", "float", minimum=0, maximum=40, description="APR offered, percent"),
    Column("credit_score", "int", minimum=300, maximum=850, description="FICO-like score"),
    Column("num_open_accounts", "int", minimum=0, maximum=100),
    Column("num_late_payments_2y", "int", minimum=0, maximum=100),
    Column("debt_to_income", "float", minimum=0, maximum=2, description="existing debt / income"),
    Column("default", "int", role="label", allowed=(0, 1), description="1 = defaulted"),
)

BY_NAME: dict[str, Column] = {c.name: c for c in COLUMNS}
ID = "application_id"
LABEL = "default"
CLASS_NAMES = ("repaid", "default")  # index = label value
FEATURES: tuple[str, ...] = tuple(c.name for c in COLUMNS if c.role == "feature")
NUMERIC_FEATURES: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.role == "feature" and c.numeric
)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(
    c.name for c in COLUMNS if c.role == "feature" and c.kind == "category"
)
