"""The modules of ccm_tui import each other without a circle.

Read from the source with `ast`, so every import counts: top-level, function-local and
`TYPE_CHECKING` ones alike (a circle hidden behind either is still a circle in the design),
and a package's `__init__` re-exports are edges from the package to its modules.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent / "ccm_tui"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def imported_by(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The ccm_tui modules `name` imports, each import statement read wherever it is."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import mod` imports the module pkg.mod (pkg only as its parent);
            # `from pkg import name` takes a name pkg's __init__ defines or re-exports.
            submodules = {f"{base}.{a.name}" for a in node.names} & modules.keys()
            targets.update(submodules)
            if len(submodules) < len(node.names):
                targets.add(base)
    edges: set[str] = set()
    for target in targets:
        if target not in modules:
            continue
        edges.add(target)
        # Importing a.b.c runs a/__init__ and a/b/__init__ first, unless we are inside them.
        parts = target.split(".")
        for depth in range(2, len(parts)):
            parent = ".".join(parts[:depth])
            if not name.startswith(parent + ".") and name != parent:
                edges.add(parent)
    edges.discard(name)
    return edges


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    return {name: imported_by(name, path, modules) for name, path in modules.items()}


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected group of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


def test_the_reader_sees_type_checking_and_function_local_imports(tmp_path):
    modules = {"ccm_tui.a": tmp_path / "a.py", "ccm_tui.b": tmp_path / "b.py"}
    modules["ccm_tui.a"].write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ccm_tui.b import B\n"
    )
    modules["ccm_tui.b"].write_text("def f():\n    from ccm_tui import a\n")
    graph = {n: imported_by(n, p, modules) for n, p in modules.items()}
    assert graph == {"ccm_tui.a": {"ccm_tui.b"}, "ccm_tui.b": {"ccm_tui.a"}}
    assert circles(graph) == [["ccm_tui.a", "ccm_tui.b"]]


def test_the_graph_covers_every_module_and_sees_package_re_exports():
    graph = import_graph()
    assert "ccm_tui.proxy.app" in graph and "ccm_tui.tui.app" in graph
    assert "ccm_tui.auth.tokens" in graph["ccm_tui.auth"]  # __init__ re-exports it


def test_no_module_of_ccm_tui_imports_itself_through_others():
    assert circles(import_graph()) == []
