"""onepipe: one ML pipeline from notebook to production.

``from onepipe import Project`` is the notebook API; everything heavy is imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:
    from onepipe.project import Project


def __getattr__(name: str):
    if name == "Project":
        from onepipe.project import Project

        return Project
    raise AttributeError(name)


__all__ = ["Project", "__version__"]
