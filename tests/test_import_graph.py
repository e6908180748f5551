"""dvclab's import graph: no cycle at module level, and the boundaries of DESIGN.md.

Every module of the installed packages is parsed with ast, never imported, so a module that fails to
import cannot hide its edges.

Cycles are sought among module-level imports only (those under a module-level ``if`` or ``try`` too,
but not under ``if TYPE_CHECKING:``, which never runs). An import inside a function runs when the
function is called, after every module has finished loading, so it cannot meet a half-initialised
module; the CLIs import that way on purpose to stay light at start-up.
Boundaries count every import wherever it stands: one inside a function is still a dependency.
"""

from __future__ import annotations

import ast
import importlib.util
import pkgutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGES = ("dvclab", "dvclab.sim", "dvclab.portal", "dvclab.load", "dvclab.gate")
# Package data (procedures, scenarios, the catalog's build script), not code of the harness.
NOT_CODE = frozenset({"dvclab.scenarios"})

# DESIGN.md: sim never imports portal, loadtests or gate; gate reads result files, never the code that
# wrote them; loadtests talks to a portal only over HTTP. The load runner starts the embedded portal as
# a process (a `dvclab portal serve` command line), which is no import and needs no exception here.
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "dvclab.sim": ("dvclab.portal", "dvclab.load", "dvclab.gate"),
    "dvclab.gate": ("dvclab.sim", "dvclab.load", "dvclab.portal"),
    "dvclab.load": ("dvclab.portal",),
}


@dataclass(frozen=True)
class Import:
    source: str  # the importing module
    target: str  # the dvclab module it loads (the longest known module the imported name falls in)
    line: int
    module_level: bool  # runs when the source module is loaded


def discover_modules() -> dict[str, Path]:
    """Module name → file, for the packages and their sub-packages (e.g. dvclab.portal.routes)."""
    modules: dict[str, Path] = {}
    todo = list(PACKAGES)
    while todo:
        package = todo.pop()
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.origin and spec.submodule_search_locations, package
        modules[package] = Path(spec.origin)
        for folder in spec.submodule_search_locations:
            for info in pkgutil.iter_modules([folder]):
                name = f"{package}.{info.name}"
                if name in modules or name in NOT_CODE:
                    continue
                if info.ispkg:
                    todo.append(name)
                else:
                    modules[name] = Path(folder) / f"{info.name}.py"
    return modules


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _imported(node: ast.AST, module: str, is_package: bool, modules: dict[str, Path]) -> list[str]:
    """The dotted names an import statement, or an ``importlib.import_module("…")`` call, loads."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if isinstance(node, ast.ImportFrom):
        base = node.module or ""
        if node.level:  # relative: from the module's package, one level up per extra dot
            package = module if is_package else module.rpartition(".")[0]
            for _ in range(node.level - 1):
                package = package.rpartition(".")[0]
            base = f"{package}.{base}" if base else package
        # `from package import submodule` loads the submodule; `from module import name`, the module.
        return [f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base for alias in node.names]
    if (
        isinstance(node, ast.Call)
        and (
            (isinstance(node.func, ast.Attribute) and node.func.attr == "import_module")
            or (isinstance(node.func, ast.Name) and node.func.id in ("import_module", "__import__"))
        )
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return []


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """The longest known module ``name`` falls in (``dvclab.gate.rules.Rule`` → ``dvclab.gate.rules``)."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def imports_of(module: str, path: Path, modules: dict[str, Path]) -> Iterator[Import]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"

    def visit(node: ast.AST, module_level: bool) -> Iterator[Import]:
        for name in _imported(node, module, is_package, modules):
            if name.split(".")[0] == "dvclab" and (target := _resolve(name, modules)):
                yield Import(module, target, getattr(node, "lineno", 0), module_level)
        for child in ast.iter_child_nodes(node):
            nested = module_level
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                nested = False
            elif isinstance(node, ast.If) and _is_type_checking(node.test) and child in node.body:
                nested = False  # never runs
            yield from visit(child, nested)

    yield from visit(tree, True)


def import_graph() -> list[Import]:
    modules = discover_modules()
    return [edge for name, path in sorted(modules.items()) for edge in imports_of(name, path, modules)]


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """One cycle (as a path back to its start) per strongly connected component that has one."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[set[str]] = []

    def connect(node: str) -> None:  # Tarjan; the graph is ~100 modules, recursion is fine
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, ())):
            if successor not in index:
                connect(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.add(member)
                if member == node:
                    break
            if len(component) > 1 or node in edges.get(node, ()):
                components.append(component)

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return [_path_back(min(component), component, edges) for component in components]


def _path_back(start: str, component: set[str], edges: dict[str, set[str]]) -> list[str]:
    """The shortest path start → … → start inside one component."""
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for successor in sorted(edges.get(node, set()) & component):
                if successor == start:
                    return [*paths[node], start]
                if successor not in paths:
                    paths[successor] = [*paths[node], successor]
                    following.append(successor)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # a component always has one


@pytest.fixture(scope="module")
def graph() -> list[Import]:
    return import_graph()


def test_the_graph_sees_every_package_and_real_edges(graph: list[Import]) -> None:
    sources = {edge.source for edge in graph}
    for package in PACKAGES:
        assert any(source.startswith(f"{package}.") for source in sources), package
    pairs = {(edge.source, edge.target, edge.module_level) for edge in graph}
    # Guards against a walker that silently finds nothing: one edge of each kind that exists today.
    assert ("dvclab.gate.evaluation", "dvclab.gate.verdict", True) in pairs
    assert ("dvclab.portal.routes.auth", "dvclab.portal.routes.common", True) in pairs
    assert ("dvclab.load.locustfile", "dvclab.gate.abort", False) in pairs


def test_no_import_cycle_at_module_level(graph: list[Import]) -> None:
    edges: dict[str, set[str]] = {}
    for edge in graph:
        if edge.module_level and edge.source != edge.target:
            edges.setdefault(edge.source, set()).add(edge.target)
    found = cycles(edges)
    assert not found, "import cycles: " + "; ".join(" → ".join(cycle) for cycle in found)


@pytest.mark.parametrize("part", sorted(FORBIDDEN))
def test_boundaries_of_the_design(graph: list[Import], part: str) -> None:
    violations = [
        f"{edge.source}:{edge.line} imports {edge.target}"
        for edge in graph
        if (edge.source == part or edge.source.startswith(f"{part}."))
        and any(edge.target == other or edge.target.startswith(f"{other}.") for other in FORBIDDEN[part])
    ]
    assert not violations, f"{part} crosses its boundary: " + "; ".join(violations)


def test_cycle_finder_names_the_modules_of_a_cycle() -> None:
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}}
    assert cycles(edges) == [["a", "b", "c", "a"], ["e", "e"]]
    assert cycles({"a": {"b"}, "b": {"c"}}) == []
