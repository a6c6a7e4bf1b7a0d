"""What 'the step's code' means for the cache: its source plus the project code it imports.

A step's source is taken from the compiled IR, and its imports are followed
through the project's own modules (files under the project root), so editing
a helper in ``components/lib`` invalidates exactly the steps that import it.
Installed libraries count through their version, not their files.
"""

from __future__ import annotations

import ast
import hashlib
from functools import lru_cache
from pathlib import Path

from onepipe.version import __version__


def step_code_hash(source: str, root: Path) -> str:
    h = hashlib.sha256()
    h.update(source.encode())
    h.update(f"onepipe=={__version__}".encode())
    for path in sorted(project_imports(source, root.resolve())):
        h.update(str(path.relative_to(root.resolve())).encode())
        h.update(_file_digest(path, path.stat().st_mtime_ns, path.stat().st_size).encode())
    return h.hexdigest()


def project_imports(source: str, root: Path) -> set[Path]:
    """Every project file reachable from ``source`` through import statements."""
    seen: set[Path] = set()
    queue = [(source, None)]
    while queue:
        text, origin = queue.pop()
        for module in _imported_modules(text, origin, root):
            for path in _module_files(module, root):
                if path not in seen:
                    seen.add(path)
                    queue.append((path.read_text(), path))
    return seen


def _imported_modules(source: str, origin: Path | None, root: Path) -> set[str]:
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    names: set[str] = set()
    package = _package_of(origin, root) if origin else ""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            # "from pkg import mod" may import a submodule.
            names.update(f"{base}.{alias.name}" for alias in node.names if base)
    return {n for n in names if n}


def _package_of(path: Path, root: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    else:
        parts = parts[:-1]
    return ".".join(parts)


def _module_files(module: str, root: Path) -> list[Path]:
    """The project files a dotted module name loads (its package __init__s included)."""
    parts = module.split(".")
    files = []
    for i in range(1, len(parts) + 1):
        base = root.joinpath(*parts[:i])
        if (base / "__init__.py").is_file():
            files.append(base / "__init__.py")
        elif base.with_suffix(".py").is_file():
            files.append(base.with_suffix(".py"))
            break
        else:
            break
    return files


@lru_cache(maxsize=1024)
def _file_digest(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()
