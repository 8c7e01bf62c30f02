"""The package's modules import each other without cycles, also counting imports inside
functions (a lazy import that only hides a cycle fails here too); imports for type checking
only (``if TYPE_CHECKING:``) are left out."""

from __future__ import annotations

import ast
from pathlib import Path

import napari_blindspot

ROOT = Path(napari_blindspot.__file__).resolve().parent
PACKAGE = "napari_blindspot"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST) -> list[ast.Import | ast.ImportFrom]:
    found: list[ast.Import | ast.ImportFrom] = []

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def import_graph() -> dict[str, set[str]]:
    """``module -> package modules it imports`` (an import of ``a.b.c`` counts as one of
    ``a.b.c`` only: the parent packages it also runs are not edges)."""
    files = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        for node in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                if node.level:
                    base = name.split(".")
                    base = base[:len(base) - node.level + (1 if is_package else 0)]
                    module = ".".join(base + ([node.module] if node.module else []))
                else:
                    module = node.module or ""
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module
                           for alias in node.names]
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strongconnect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                strongconnect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            strongconnect(v)
    return found


def test_the_graph_sees_the_package():
    graph = import_graph()
    assert f"{PACKAGE}.engine.methods.registry" in graph[f"{PACKAGE}.engine.config"]
    assert f"{PACKAGE}.engine.methods.hqssl" in graph[f"{PACKAGE}.engine.methods.registry"]
    assert f"{PACKAGE}.engine.model_file" in graph[f"{PACKAGE}.engine.model"]


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, f"import cycles: {found}"


#: The most modules the package's top level may hold (issue 24): the rest live in packages
#: (engine/, io/, files/, cli/, samples/, widget/).
TOP_LEVEL_MODULES = 8


def test_the_top_level_is_small():
    modules = sorted(p.name for p in ROOT.glob("*.py"))
    assert len(modules) <= TOP_LEVEL_MODULES, f"{len(modules)} top-level modules: {modules}"


def test_command_modules_take_nothing_from_the_parser():
    """The subcommands import what they need themselves (no hooks passed down from
    :mod:`napari_blindspot.cli.app`): only the package's entry points import the app."""
    graph = import_graph()
    app = f"{PACKAGE}.cli.app"
    importers = sorted(m for m, targets in graph.items() if app in targets)
    assert importers == [f"{PACKAGE}.cli", f"{PACKAGE}.cli.__main__"]
    assert f"{PACKAGE}.cli.training" in graph[f"{PACKAGE}.cli.denoise"]
    assert f"{PACKAGE}.cli.training" in graph[f"{PACKAGE}.cli.distributed"]
