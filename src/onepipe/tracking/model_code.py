"""Load a model's own shipped code rather than a same-named module already imported.

A model saved by ``steps.save_model`` ships the project code its pickle references
(MLflow ``code_paths``, stored under ``<model>/code/``), e.g. a ``components``
package. MLflow puts that folder first on ``sys.path`` but only forgets cached
modules by file stem, so in a process that already imported another project's
``components`` (a notebook that ran one project and loads another's model) the
pickle would resolve ``components.lib`` against the wrong package and fail.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

CODE_DIR = "code"


def forget_shadowing_modules(model_dir: Path) -> list[str]:
    """Drop imported modules the model's shipped code defines under the same top-level
    name but from elsewhere; returns their names (the model's own load re-imports them)."""
    code = Path(model_dir) / CODE_DIR
    if not code.is_dir():
        return []
    tops = {p.name if p.is_dir() else p.stem for p in code.iterdir() if p.name != "__pycache__"}
    inside = str(code.resolve()) + os.sep
    dropped = []
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] not in tops:
            continue
        file = getattr(module, "__file__", None) or ""
        if not str(Path(file).resolve()).startswith(inside):
            del sys.modules[name]
            dropped.append(name)
    return dropped
