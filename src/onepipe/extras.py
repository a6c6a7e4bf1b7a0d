"""Optional dependencies: imported where they are used, refused with the extra to install.

``pip install onepipe`` is the laptop stack; cluster and team backends live in extras
(pyproject.toml ``[project.optional-dependencies]``). Where a backend imports one of
them, ``require`` turns a missing module into one line naming the extra, instead of a
``ModuleNotFoundError`` at some depth.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from onepipe.errors import MissingExtra


def require(module: str, *, extra: str, what: str) -> ModuleType:
    """``import module``, or MissingExtra: ``<what> needs the '<extra>' extra: pip install ...``."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        # Installed but broken (psycopg without a libpq, say): keep the reason.
        missing = (
            isinstance(exc, ModuleNotFoundError)
            and (exc.name or "").split(".")[0] == module.split(".")[0]
        )
        reason = "" if missing else f" ({module}: {exc})"
        raise MissingExtra(
            f"{what} needs the '{extra}' extra: pip install 'onepipe[{extra}]'{reason}"
        ) from None
