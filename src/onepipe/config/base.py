"""The base every config section derives from, and what a check across sections raises."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Unknown keys are errors, not silent defaults; sections are immutable once resolved."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class ConfigProblem(ValueError):
    """``key.path: what is wrong (expected ...)``: the caller adds the file or the override."""


class BackendSection(Section):
    """A backend's own section of onepipe.yaml (``serve.seldon``, ``kfp`` ...).

    Declared in the backend's folder, named by its registry line (``onepipe.plugins``),
    and added to the schema by :mod:`onepipe.config.assemble`.
    """

    def check_chosen(self, cfg: Any) -> None:
        """Checks that hold once an environment chooses this backend, on the whole resolved
        config ``cfg``: raise ``ConfigProblem`` (``key.path: problem``). None by default."""
