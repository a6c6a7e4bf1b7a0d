"""The base every config section derives from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors, not silent defaults; sections are immutable once resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True)
