"""Import the project's own modules so what runs is what the cache key hashed.

A notebook session, or a test suite holding several project copies, may still
have an older ``components`` module imported. Executing that while the cache
key was computed from the files on disk would store wrong results under a
right key, so project modules are re-imported whenever their file changed or
they came from another project root.
"""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from types import ModuleType

_mtimes: dict[str, int] = {}
_active_root: str | None = None


def _top_levels(root: Path) -> set[str]:
    names = set()
    for entry in root.iterdir():
        if entry.is_dir() and (entry / "__init__.py").is_file():
            names.add(entry.name)
        elif entry.suffix == ".py":
            names.add(entry.stem)
    return names


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return -1


def import_project_module(module: str, root: Path) -> ModuleType:
    global _active_root
    root_s = str(root.resolve())
    if _active_root and _active_root != root_s and _active_root in sys.path:
        sys.path.remove(_active_root)
    if root_s in sys.path:
        sys.path.remove(root_s)
    sys.path.insert(0, root_s)
    _active_root = root_s
    tops = _top_levels(Path(root_s))
    for name, mod in list(sys.modules.items()):
        if name.split(".")[0] not in tops:
            continue
        file = getattr(mod, "__file__", None) or ""
        if not file.startswith(root_s + os.sep) or _mtimes.get(name) != _mtime(file):
            del sys.modules[name]
            _mtimes.pop(name, None)
    importlib.invalidate_caches()
    loaded = importlib.import_module(module)
    remember(root)
    return loaded


def remember(root: Path) -> None:
    """Record the file times of the project modules now imported (call after steps ran)."""
    root_s = str(root.resolve())
    for name, mod in list(sys.modules.items()):
        file = getattr(mod, "__file__", None) or ""
        if file.startswith(root_s + os.sep) and name not in _mtimes:
            _mtimes[name] = _mtime(file)
