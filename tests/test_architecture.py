"""The house keeps its shape: no import cycles and no private names imported across modules.

Imports inside functions count too: a lazy import hides a cycle from Python's start-up, not
from a reader.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "postrender"


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str) -> list[tuple[str, list[str]]]:
    """(imported module, names taken from it) for every import of ``name``'s source."""
    path = MODULES[name]
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, []) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}" if base else anchor
            names = [alias.name for alias in node.names]
            # `from package import module` imports the module, not a name of the package
            for sub in [n for n in names if f"{base}.{n}" in MODULES]:
                found.append((f"{base}.{sub}", []))
            found.append((base, [n for n in names if f"{base}.{n}" not in MODULES]))
    return [(target, names) for target, names in found if target in MODULES]


def _graph() -> dict[str, set[str]]:
    # A module importing its own package's __init__ (a registry) is not an edge back up.
    return {
        name: {t for t, _ in _imports(name) if t != name and not name.startswith(f"{t}.")}
        for name in MODULES
    }


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_import_graph_has_no_cycles() -> None:
    assert _cycles(_graph()) == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    # The control: a graph with a loop is reported, or the test above proves nothing.
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_no_module_imports_a_private_name_of_another() -> None:
    private = [
        f"{name} imports {target}.{taken}"
        for name in MODULES
        for target, names in _imports(name)
        for taken in names
        if taken.startswith("_") and not taken.endswith("__") and target != name
    ]
    assert private == []


def test_the_graph_sees_function_level_imports() -> None:
    # The commands load their modules lazily; those imports must be in the graph.
    edges = _graph()
    assert sum(len(targets) for targets in edges.values()) > len(MODULES)
    assert any(edges[name] for name in MODULES if name.startswith("postrender.cli."))


def test_validate_imports_nothing_from_model() -> None:
    # The profile model checks labels and tolerations with validate's Kubernetes rules, so
    # validate sits below model: an arrow back (validate -> model) would make the two one layer.
    upward = sorted(
        f"{name} imports {target}"
        for name, targets in _graph().items()
        if name.startswith("postrender.validate")
        for target in targets
        if target.startswith("postrender.model")
    )
    assert upward == []
    assert "postrender.validate.kubernetes" in _graph()["postrender.model.profiles"]


MAX_LINES = 350


def _too_long(modules: dict[str, Path]) -> dict[str, int]:
    lengths = {name: len(path.read_text("utf-8").splitlines()) for name, path in modules.items()}
    return {name: n for name, n in lengths.items() if n > MAX_LINES}


# The scripts beside the package (build tools, benchmark, fuzzers) are held to it too.
SCRIPTS = {
    str(path.relative_to(PACKAGE.parent)): path
    for folder in ("tools", "bench", "fuzz")
    for path in sorted((PACKAGE.parent / folder).rglob("*.py"))
    if ".venv" not in path.parts
}


def test_no_module_is_longer_than_the_limit() -> None:
    assert _too_long(MODULES) == {}
    assert SCRIPTS and _too_long(SCRIPTS) == {}


def test_the_length_check_finds_a_long_module(tmp_path: Path) -> None:
    # The control for the test above: the count sees a module past the limit.
    long = tmp_path / "long.py"
    long.write_text("x = 1\n" * (MAX_LINES + 1))
    assert _too_long({"long": long}) == {"long": MAX_LINES + 1}
