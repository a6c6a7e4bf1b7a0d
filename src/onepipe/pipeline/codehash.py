"""What 'the step's code' means for the cache: its source plus the project code it imports.

A step's source is taken from the compiled IR, and its imports are followed
through the project's own modules (files under the project root), so editing
a helper in ``components/lib`` invalidates exactly the steps that import it.
Installed libraries count through their version, not their files.

Importing ``a.b.c`` runs the bodies of ``a/__init__.py`` and ``a/b/__init__.py`` too, so
they count. A package reached only as such a parent is followed without the imports in
its module ``__getattr__``/``__dir__`` (PEP 562 hooks): those run when a name is looked
up on that package, which ``from a.b import c`` never does (it looks up ``c`` on
``a.b``, which is followed whole). That keeps a package ``__init__`` that lazily exposes
every step (the example's ``components``) from tying every step to every file.
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
    full: set[Path] = set()  # followed whole
    parent_only: set[Path] = set()  # reached only as a parent package of an import
    queue: list[tuple[str, Path | None, bool]] = [(source, None, False)]
    while queue:
        text, origin, as_parent = queue.pop()
        for module, whole_chain in _imported_modules(text, origin, root, skip_hooks=as_parent):
            files = _module_files(module, root)
            for i, path in enumerate(files):
                parent = not whole_chain and i < len(files) - 1
                if path in full or (parent and path in parent_only):
                    continue
                (parent_only if parent else full).add(path)
                queue.append((path.read_text(), path, parent))
    return full | parent_only


# PEP 562 module hooks: run on a name lookup on the module, not when it is imported.
_MODULE_HOOKS = frozenset({"__getattr__", "__dir__"})


def _imported_modules(
    source: str, origin: Path | None, root: Path, skip_hooks: bool = False
) -> set[tuple[str, bool]]:
    """(module, whole chain) pairs. ``import a.b.c`` binds ``a``, so names may be looked up
    on every package of the chain; ``from a.b import c`` looks names up on ``a.b`` only,
    so ``a`` is then only a parent (whole chain false)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    nodes: list[ast.AST] = [tree]
    if skip_hooks:
        nodes = [
            n
            for n in tree.body
            if not (
                isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef) and n.name in _MODULE_HOOKS
            )
        ]
    names: set[tuple[str, bool]] = set()
    package = _package_of(origin, root) if origin else ""
    for node in (sub for top in nodes for sub in ast.walk(top)):
        if isinstance(node, ast.Import):
            names.update((alias.name, True) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, base] if base else parts)
            names.add((base, False))
            # "from pkg import mod" may import a submodule: pkg is then its parent.
            names.update((f"{base}.{alias.name}", False) for alias in node.names if base)
    return {(n, whole) for n, whole in names if n}


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
