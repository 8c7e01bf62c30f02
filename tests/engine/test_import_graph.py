"""The package's modules import each other without cycles, and Qt only where the views are
(``widget/_qt``), also counting imports inside functions (a lazy import that only hides a cycle
or a Qt import fails here too); imports for type checking only (``if TYPE_CHECKING:``) are
left out."""

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


def _from_module(node: ast.ImportFrom, name: str, is_package: bool) -> str:
    """The absolute module of ``from ... import`` in the module ``name``."""
    if not node.level:
        return node.module or ""
    base = name.split(".")
    base = base[:len(base) - node.level + (1 if is_package else 0)]
    return ".".join(base + ([node.module] if node.module else []))


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
                module = _from_module(node, name, is_package)
                targets = [f"{module}.{alias.name}" if f"{module}.{alias.name}" in files else module
                           for alias in node.names]
            graph[name] |= {t for t in targets if t in files and t != name}
    return graph


def imported_names(source: str, name: str, is_package: bool = False) -> set[str]:
    """Every absolute dotted name the module ``name`` (code ``source``) imports, in and out of
    the package: for ``from a.b import c``, both ``a.b`` and ``a.b.c`` (``c`` may be a module)."""
    names: set[str] = set()
    for node in _imports(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        else:
            module = _from_module(node, name, is_package)
            names |= {module} | {f"{module}.{alias.name}" for alias in node.names}
    return names


#: Qt, its bindings and the libraries that draw with it: only the views import them.
QT = ("qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "napari._qt", "napari.qt", "superqt",
      "magicgui")
#: Where the views are: the only package modules that may import :data:`QT`.
VIEWS = f"{PACKAGE}.widget._qt"
#: The packages that must stay Qt-free (their ``_qt`` sub-package excepted): the headless engine,
#: the file readers and writers, the widget's controller and state.
QT_FREE = (f"{PACKAGE}.engine", f"{PACKAGE}.io", f"{PACKAGE}.widget")


def _within(name: str, packages: str | tuple[str, ...]) -> bool:
    packages = (packages,) if isinstance(packages, str) else packages
    return any(name == p or name.startswith(p + ".") for p in packages)


def qt_imports() -> dict[str, set[str]]:
    """``module -> the Qt names (or views) it imports``, for every module of :data:`QT_FREE`
    outside :data:`VIEWS` that imports any."""
    found: dict[str, set[str]] = {}
    for path in ROOT.rglob("*.py"):
        name = _module_name(path)
        if not _within(name, QT_FREE) or _within(name, VIEWS):
            continue
        names = imported_names(path.read_text(encoding="utf-8"), name, path.name == "__init__.py")
        bad = {n for n in names if _within(n, QT) or _within(n, VIEWS)}
        if bad:
            found[name] = bad
    return found


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
    assert f"{PACKAGE}.engine.methods.hqssl.method" in graph[f"{PACKAGE}.engine.methods.registry"]
    assert f"{PACKAGE}.engine.model_file" in graph[f"{PACKAGE}.engine.model"]


def test_cycles_are_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_qt_imports_are_found():
    lazy = "def f():\n    from napari.qt.threading import create_worker\n"
    assert _within("napari.qt.threading", QT) and not _within("napari.layers", QT)
    assert "napari.qt.threading" in imported_names(lazy, f"{PACKAGE}.widget.jobs")
    assert f"{VIEWS}.dock" in imported_names("from ._qt import dock\n", f"{PACKAGE}.widget.state")
    assert f"{VIEWS}.dock" in imported_names("from ._qt.dock import BlindspotWidget\n",
                                             f"{PACKAGE}.widget.controller")
    assert "qtpy.QtCore" in imported_names("import qtpy.QtCore\n", f"{PACKAGE}.engine.model")
    typing_only = "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import qtpy\n"
    assert "qtpy" not in imported_names(typing_only, f"{PACKAGE}.widget.state")
    views = imported_names((ROOT / "widget" / "_qt" / "dock.py").read_text(encoding="utf-8"),
                           f"{VIEWS}.dock")
    assert any(_within(n, QT) for n in views)  # the views do import Qt


def test_qt_only_in_the_views():
    """The engine, io and the widget's controller and state import no Qt, nor the views."""
    found = qt_imports()
    assert not found, f"Qt imported outside {VIEWS}: {found}"


def test_no_import_cycles():
    found = cycles(import_graph())
    assert not found, f"import cycles: {found}"


#: The most modules the engine's root may hold (issue 24: method families, training, prediction
#: and the machine live in sub-packages).
MAX_ENGINE_ROOT_MODULES = 16


def test_the_engine_root_stays_small():
    root = sorted(p.name for p in (ROOT / "engine").glob("*.py"))
    assert len(root) <= MAX_ENGINE_ROOT_MODULES, (
        f"{len(root)} modules in engine/ (at most {MAX_ENGINE_ROOT_MODULES}): move one into its "
        f"sub-package (methods/<family>/, training/, prediction/, system/): {root}")


def test_method_families_own_their_modules():
    graph = import_graph()
    engine = f"{PACKAGE}.engine"
    # HQ-SSL's internals are imported by HQ-SSL, not by the other method families
    hqssl = {m for m in graph if m.startswith(f"{engine}.methods.hqssl.")}
    for family in ("n2v", "n2n"):
        users = {m for m in graph if m.startswith(f"{engine}.methods.{family}")}
        for user in users:
            assert not graph[user] & hqssl, f"{user} imports HQ-SSL's {graph[user] & hqssl}"
    assert f"{engine}.prediction.pipeline" in graph[f"{engine}.model"]
    assert f"{engine}.model" not in graph[f"{engine}.prediction.pipeline"]  # the value stays a value
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


#: The size guide (issue 24): no module over ~400 lines, no class over ~350.
MAX_MODULE_LINES, MAX_CLASS_LINES = 400, 350


def test_no_module_or_class_outgrows_the_guide():
    too_long = []
    for path in sorted(ROOT.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        if text.count("\n") > MAX_MODULE_LINES:
            too_long.append(f"{path.relative_to(ROOT)}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ClassDef) and node.end_lineno - node.lineno + 1 > MAX_CLASS_LINES:
                too_long.append(f"{path.relative_to(ROOT)}: class {node.name} "
                                f"{node.end_lineno - node.lineno + 1} lines")
    assert not too_long, "split these: " + "; ".join(too_long)
