"""The base every config section derives from, and what a check across sections raises."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors, not silent defaults; sections are immutable once resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigProblem(ValueError):
    """``key.path: what is wrong (expected ...)``: the caller adds the file or the override."""
