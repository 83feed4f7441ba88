"""The package's import graph has no cycles, counting imports inside functions too.

Reads every module of `src/iterdeploy` with `ast` (nothing is imported), resolves relative
imports, and fails naming a cycle. Also checks the direction rules of docs/architecture.md.
"""

from __future__ import annotations

import ast
from pathlib import Path

import iterdeploy

PACKAGE = Path(iterdeploy.__file__).parent
NAME = "iterdeploy"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str, modules: dict[str, Path]) -> str | None:
    """Return the package module `name` stands for (its longest known prefix), or None."""
    while name:
        if name in modules:
            return name
        name = name.rpartition(".")[0]
    return None


def _imports(module: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """Return the package modules `module` imports anywhere in its body."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                drop = node.level - 1 if is_package else node.level
                anchor = anchor[: len(anchor) - drop] if drop else anchor
                base = ".".join([*anchor, base]) if base else ".".join(anchor)
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        for name in names:
            if name == NAME or name.startswith(NAME + "."):
                target = _resolve(name, modules)
                if target is not None and target != module:
                    found.add(target)
    return found


def import_graph() -> dict[str, set[str]]:
    """Return {module: package modules it imports}, with `iterdeploy.x.y` names.

    Importing `a.b.c` first runs the package `a.b`, so a module also depends on the packages
    of what it imports (except its own, which are already running).
    """
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    for name, deps in graph.items():  # importing a submodule first runs its packages' __init__
        for dep in list(deps):
            parent = dep.rpartition(".")[0]
            while parent and parent != NAME and not (name + ".").startswith(parent + "."):
                deps.add(parent)
                parent = parent.rpartition(".")[0]
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """Return one cycle as [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_finder_sees_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_graph_reads_imports_inside_functions() -> None:
    graph = import_graph()
    assert "iterdeploy.pddl.validate" in graph["iterdeploy.prompting.extract"]
    assert all(dep.startswith(NAME) for deps in graph.values() for dep in deps)


def test_no_import_cycles() -> None:
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


def _reach(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for dep in graph[todo.pop()]:
            if dep not in seen:
                seen.add(dep)
                todo.append(dep)
    return seen


def test_config_imports_no_stage_above_it() -> None:
    graph = import_graph()
    direct = graph["iterdeploy.config"]
    for package in ("analysis", "loop", "generation"):
        bad = sorted(d for d in direct if d.startswith(f"{NAME}.{package}"))
        assert not bad, f"iterdeploy.config imports {bad}"
    reached = _reach(graph, "iterdeploy.config")
    assert not {d for d in reached if d.startswith((f"{NAME}.analysis", f"{NAME}.loop"))}


def test_only_analysis_and_commands_import_analysis() -> None:
    graph = import_graph()
    for module, deps in graph.items():
        if module.startswith((f"{NAME}.analysis", f"{NAME}.commands")):
            continue
        bad = sorted(d for d in deps if d.startswith(f"{NAME}.analysis"))
        assert not bad, f"{module} imports {bad}: analysis only reads the store"
