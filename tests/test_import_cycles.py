"""No import circle among the project's modules: every import counts, those
inside functions too (a deferred import is how a circle hides), except those
only type checkers run (`if TYPE_CHECKING:`)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("reasoning", "playground", "bench")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def project_modules() -> dict[str, Path]:
    return {
        module_name(path): path
        for package in PACKAGES
        for path in (ROOT / package).rglob("*.py")
        # Not migrations, nor what lives in a hidden directory (bench/.peers-venv: LiteLLM's venv).
        if "migrations" not in path.parts and not any(part.startswith(".") for part in path.relative_to(ROOT).parts)
    }


def _type_checking_only(tree: ast.AST) -> set[ast.AST]:
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                skipped.update(ast.walk(child))
    return skipped


def imports_of(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    skipped = _type_checking_only(tree)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            for alias in node.names:
                # `from a.b import c`: the module a.b.c if there is one, else a name in a.b.
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in modules else base)
    return {m for m in found if m in modules and m != name}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
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
            visit(v)
    return found


def test_no_import_circle_among_the_projects_modules():
    modules = project_modules()
    graph = {name: imports_of(name, path, modules) for name, path in modules.items()}
    assert "playground.streaming.run" in graph["playground.streaming.launch"]  # the graph is read
    assert cycles(graph) == []


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def package_of(module: str) -> str:
    """`playground.streaming.run` -> `playground.streaming`; other modules are their own package."""
    parts = module.split(".")
    if parts[0] == "playground" and len(parts) == 3 and parts[2] == "models":
        # A feature's models module (arena, sweeps) is part of the app's models: Django
        # registers them through playground.models, which imports them. It imports
        # nothing but the ORM and leaf modules (playground.naming).
        return "playground.models"
    return ".".join(parts[:2]) if parts[0] == "playground" and len(parts) > 2 else module


def test_no_package_circle_through_the_turns_domain_the_runtime_or_a_screen():
    # The turn's domain (playground.turns) sits under the runtime (streaming), which
    # sits under the screens (issue 19.8): a screen and the runtime once imported each other.
    modules = project_modules()
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        graph.setdefault(package_of(name), set()).update(
            package_of(m) for m in imports_of(name, path, modules) if package_of(m) != package_of(name)
        )
    for deps in list(graph.values()):
        for dep in deps:
            graph.setdefault(dep, set())
    layered = {f"playground.{p}" for p in ("turns", "streaming", "conversations", "compare", "api", "accounts")}
    assert [c for c in cycles(graph) if layered & set(c)] == []
