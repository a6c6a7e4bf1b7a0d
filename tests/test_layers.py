"""Layers point down and nothing imports in a circle.

The import graph of ``src/onepipe`` is read with ``ast``: every import counts, at module
level or inside a function (a lazy import ties two modules together as much as any other).
Only imports under ``if TYPE_CHECKING:`` are left out: they never run.
"""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

import onepipe

SRC = Path(onepipe.__file__).parent

# The declared order, lowest first: a package may import from its own layer or a lower one.
# Within a layer, the cycle tests below keep the imports one-way.
LAYERS: list[tuple[str, set[str]]] = [
    ("base", {"errors", "owner_only", "extras", "version", "lifecycle", "quality"}),
    ("config", {"config", "plugins"}),
    ("clients", {"k8s", "sql", "history"}),
    (
        "stages",
        {"data", "pipeline", "tracking", "sweep", "serve", "monitor", "steps", "team", "scaffold"},
    ),
    ("app", {"app", "gc"}),
    ("entry", {"cli", "project", "demo", "onepipe", "__main__", "testing"}),
]


# ---- the graph ------------------------------------------------------------------------------
def _modules(src: Path) -> dict[str, Path]:
    """Dotted module name -> file, for every .py file under the package ``src``."""
    found = {}
    for path in src.rglob("*.py"):
        parts = [src.name, *path.relative_to(src).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def _type_checking_only(node: ast.AST) -> bool:
    test = getattr(node, "test", None)
    return isinstance(node, ast.If) and (
        (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING")
        or (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")
    )


def _imports(tree: ast.AST):
    """Every import statement that can run, however deeply nested."""
    for node in ast.iter_child_nodes(tree):
        if _type_checking_only(node):
            yield from (n for child in node.orelse for n in _imports_in(child))
            continue
        yield from _imports_in(node)


def _imports_in(node: ast.AST):
    if isinstance(node, ast.Import | ast.ImportFrom):
        yield node
    else:
        yield from _imports(node)


def import_graph(src: Path) -> dict[str, dict[str, int]]:
    """module -> {imported module of the same package: line of the first such import}."""
    modules = _modules(src)
    root = src.name

    def known(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, dict[str, int]] = {}
    for module, path in modules.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        targets: dict[str, int] = {}
        for node in _imports(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([base] if base else [])])
                # ``from pkg import mod`` imports the module pkg.mod when there is one.
                names = [
                    f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base
                    for a in node.names
                ]
            for name in names:
                if name == root or name.startswith(root + "."):
                    target = known(name)
                    if target and target != module:
                        targets.setdefault(target, node.lineno)
        graph[module] = targets
    return graph


def package_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def package_graph(graph: dict[str, dict[str, int]]) -> dict[str, dict[str, list[str]]]:
    """package -> {imported package: ["module:line -> module", ...]}."""
    packages: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for module, targets in graph.items():
        packages[package_of(module)]
        for target, line in targets.items():
            if package_of(target) != package_of(module):
                packages[package_of(module)][package_of(target)].append(
                    f"{module}:{line} -> {target}"
                )
    return packages


def cycles(edges: dict[str, dict]) -> list[list[str]]:
    """Closed paths covering every node caught in a cycle: for each strongly connected
    component of more than one node, the shortest cycle through each of its members."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in edges.get(node, {}):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            for member in sorted(component) if len(component) > 1 else ():
                path = _closed_path(member, set(component), edges)
                if not any(_same_cycle(path, seen) for seen in found):
                    found.append(path)

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return found


def _same_cycle(a: list[str], b: list[str]) -> bool:
    return len(a) == len(b) and set(a) == set(b)


def _closed_path(start: str, members: set[str], edges: dict[str, dict]) -> list[str]:
    """A shortest way from ``start`` back to itself through ``members`` (breadth first)."""
    came_from: dict[str, str] = {}
    queue = [start]
    while queue:
        node = queue.pop(0)
        for nxt in sorted(edges.get(node, {})):
            if nxt not in members:
                continue
            if nxt == start:
                path = [node]
                while path[-1] != start:
                    path.append(came_from[path[-1]])
                return [start, *reversed(path[:-1]), start]
            if nxt not in came_from:
                came_from[nxt] = node
                queue.append(nxt)
    raise AssertionError(f"no cycle through {start}")


def _say_cycle(path: list[str], graph: dict[str, dict], how) -> str:
    hops = [f"    {a} -> {b}: {how(a, b)}" for a, b in zip(path, path[1:], strict=False)]
    return " -> ".join(path) + "\n" + "\n".join(hops)


# ---- the tests --------------------------------------------------------------------------------
def test_the_graph_counts_imports_inside_functions_and_finds_cycles(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "low").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low" / "__init__.py").write_text("")
    (pkg / "low" / "a.py").write_text("def f():\n    from pkg.high import b\n")
    (pkg / "low" / "c.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import pkg.high.b\n"
    )
    (pkg / "high.py").write_text("from .low import a\n")
    graph = import_graph(pkg)
    assert graph["pkg.low.a"] == {"pkg.high": 2} and graph["pkg.low.c"] == {}
    assert graph["pkg.high"] == {"pkg.low.a": 1}
    assert cycles(graph) == [["pkg.high", "pkg.low.a", "pkg.high"]]
    assert cycles(package_graph(graph)) == [["high", "low", "high"]]


def test_no_import_cycle_between_packages():
    graph = import_graph(SRC)
    packages = package_graph(graph)
    found = cycles(packages)
    report = [_say_cycle(path, packages, lambda a, b: "; ".join(packages[a][b])) for path in found]
    assert not found, "packages importing each other:\n" + "\n".join(report)


def test_no_import_cycle_between_files():
    graph = import_graph(SRC)
    found = cycles(graph)
    report = [_say_cycle(path, graph, lambda a, b: f"line {graph[a][b]}") for path in found]
    assert not found, "modules importing each other:\n" + "\n".join(report)


def test_layers_point_down():
    layer = {package: rank for rank, (_, members) in enumerate(LAYERS) for package in members}
    packages = package_graph(import_graph(SRC))
    unplaced = sorted(p for p in packages if p not in layer)
    assert not unplaced, f"packages with no declared layer (add them to LAYERS): {unplaced}"
    upward = [
        f"{LAYERS[layer[src]][0]} {src} -> {LAYERS[layer[dst]][0]} {dst}: {'; '.join(where)}"
        for src, targets in sorted(packages.items())
        for dst, where in sorted(targets.items())
        if layer[dst] > layer[src]
    ]
    assert not upward, "imports pointing up a layer:\n" + "\n".join(upward)


# ---- imports inside functions say why ---------------------------------------------------------
def _comment_lines(source: str) -> set[int]:
    import io
    import tokenize

    tokens = tokenize.generate_tokens(io.StringIO(source).readline)
    return {tok.start[0] for tok in tokens if tok.type == tokenize.COMMENT}


def unexplained_lazy_imports(path: Path) -> list[int]:
    """Lines of imports inside a function that give no reason: neither a comment on the
    import itself nor one heading the run of imports it belongs to."""
    source = path.read_text()
    lines = source.splitlines()
    comments = _comment_lines(source)
    found = []
    for func in ast.walk(ast.parse(source, str(path))):
        if not isinstance(func, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in _imports(func):
            if any(n in comments for n in range(node.lineno, node.end_lineno + 1)):
                continue
            above = node.lineno - 1  # walk up over the imports and blanks of the same run
            while (
                above >= 1
                and (
                    not lines[above - 1].strip()
                    or lines[above - 1].lstrip().startswith(("import ", "from "))
                )
                and (above not in comments)
            ):
                above -= 1
            if not (above >= 1 and above in comments and lines[above - 1].lstrip().startswith("#")):
                found.append(node.lineno)
    return sorted(set(found))


def test_the_lazy_import_check_wants_a_reason(tmp_path):
    module = tmp_path / "m.py"
    module.write_text(
        "def explained():\n"
        "    # lazy: heavy, only this command needs it\n"
        "    import json\n"
        "\n"
        "    from os import path\n"
        "def trailing():\n"
        "    import json  # lazy: keeps --help fast\n"
        "def silent():\n"
        "    x = 1\n"
        "    import json\n"
    )
    assert unexplained_lazy_imports(module) == [10]


def test_every_import_inside_a_function_says_why():
    """An import inside a function hides a dependency from the reader and from the layer
    tests' first glance; it stays only for a reason (``--help`` speed, an optional extra,
    a heavy library off a hot path), and says which."""
    silent = [
        f"{path.relative_to(SRC.parent)}:{line}"
        for path in sorted(SRC.rglob("*.py"))
        for line in unexplained_lazy_imports(path)
    ]
    assert not silent, (
        f"{len(silent)} imports inside functions without a comment saying why "
        "(move them to the top of the module, or say why they are lazy):\n" + "\n".join(silent)
    )
