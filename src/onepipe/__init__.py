"""onepipe: one ML pipeline from notebook to production.

``from onepipe import Project`` is the notebook API; everything heavy is imported lazily.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from onepipe.version import __version__

if TYPE_CHECKING:
    from onepipe.project import Project


def __getattr__(name: str):
    if name == "Project":
        # lazy: `import onepipe` stays light (every pipeline step's process imports it);
        # Project brings the config, the data store and the pipeline runner
        from onepipe.project import Project

        return Project
    raise AttributeError(name)


__all__ = ["Project", "__version__"]
