"""The house's shape: app.py -> piratebox/ -> models.py, and no module of piratebox/
that imports, even inside a function, a module that imports it back."""

import ast
from pathlib import Path

from tests.server import ROOT


def module_name(path):
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules():
    paths = [*sorted((ROOT / "piratebox").rglob("*.py")), ROOT / "app.py", ROOT / "models.py"]
    return {module_name(path): path for path in paths}


def imports_of(path, known):
    """The known modules a source file imports, wherever in the file the import stands;
    a LazyBlueprint's views module too (piratebox/lazyviews.py), imported later by name."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "id", "") == "LazyBlueprint":
            found.update(arg.value for arg in node.args if isinstance(arg, ast.Constant))
    return {name for name in found if name in known}


def import_graph():
    known = modules()
    return {name: imports_of(path, known) - {name} for name, path in known.items()}


def loops(graph):
    """Every group of modules that reach each other (Tarjan's strongly connected parts)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(module):
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for other in graph[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in on_stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            group = set()
            while module not in group:
                group.add(stack.pop())
            on_stack.difference_update(group)
            if len(group) > 1:
                found.append(sorted(group))

    for module in graph:
        if module not in index:
            visit(module)
    return found


def test_the_graph_reads_every_module_and_its_imports():
    graph = import_graph()
    assert {"app", "models", "piratebox.web", "piratebox.catalogue.views"} <= set(graph)
    assert "piratebox.web" in graph["app"] and "models" in graph["piratebox.box"]
    assert "piratebox.sync.views" in graph["piratebox.sync.routes"]


def test_the_loop_finder_finds_a_loop():
    assert loops({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert loops({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_one_that_imports_it_back():
    assert loops(import_graph()) == []


def test_dependencies_point_one_way_app_then_piratebox_then_models():
    graph = import_graph()
    assert graph["models"] == set()
    assert not [name for name, imported in graph.items()
                if name.startswith("piratebox") and "app" in imported]


def test_the_request_lifecycle_names_no_feature():
    features = {"piratebox.catalogue", "piratebox.files", "piratebox.board", "piratebox.events",
                "piratebox.sync", "piratebox.impact", "piratebox.printing", "piratebox.backup",
                "piratebox.initiatives"}
    for module in ("piratebox.web", "piratebox.bodies", "piratebox.spool", "piratebox.phone"):
        named = {name for name in import_graph()[module]
                 if any(name == feature or name.startswith(feature + ".")
                        for feature in features)}
        assert named == set(), module
        source = Path(ROOT / (module.replace(".", "/") + ".py")).read_text(encoding="utf-8")
        assert '"files.' not in source and '"sync.' not in source, module
