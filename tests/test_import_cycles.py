"""Imports point one way: a cycle among watcher's modules fails here, even one hidden by an import inside a
function or under TYPE_CHECKING (both still tie the modules together for a reader)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "watcher"



def modules() -> dict[str, Path]:
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        if "migrations" in parts:
            continue
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        found[name] = path
    return found


def imports(name: str, path: Path, known: dict[str, Path]) -> set[str]:
    """The watcher modules `name` imports anywhere in its text, resolved to the module files that exist."""
    def resolve(target: str) -> str | None:
        while target and target not in known:
            target = target.rpartition(".")[0]
        return target or None

    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        for target in targets:
            if target.startswith("watcher") and (module := resolve(target)) and module != name:
                out.add(module)
    return out


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[set[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(component)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def graph() -> dict[str, set[str]]:
    known = modules()
    return {name: imports(name, path, known) for name, path in known.items()}


def test_no_import_cycles_among_watchers_modules():
    edges = graph()
    new = cycles(edges)
    lines = [" <-> ".join(f"{m} (imports {', '.join(sorted(edges[m] & c))})" for m in sorted(c)) for c in new]
    assert not new, "import cycle(s):\n" + "\n".join(lines)


def test_the_walk_sees_imports_inside_functions(tmp_path):
    """The checker must catch the lazy import that used to hide config <-> cadence."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": {"a"}}) == [{"a", "b"}]
    path = tmp_path / "config.py"
    path.write_text("def f():\n    from watcher.forecast import cadence\n", encoding="utf-8")
    assert imports("watcher.config", path, {"watcher.forecast.cadence": path}) == {"watcher.forecast.cadence"}


# Highest first: a module may import its own layer or any layer below it, never one above.
LAYERS = [{"watcher.__main__", "watcher.cli"}, {"watcher.daemon"}, {"watcher.engine"},
          {"watcher.forecast", "watcher.sources", "watcher.notify", "watcher.store"}, {"watcher.config"}]


def layer(module: str) -> int:
    """The layer index of a module (its role package), the leaves (`watcher.models`, ...) last."""
    for index, roots in enumerate(LAYERS):
        if any(module == root or module.startswith(root + ".") for root in roots):
            return index
    return len(LAYERS)


def test_imports_point_down_the_layers():
    upward = sorted(f"{m} imports {d}" for m, deps in graph().items() for d in deps if layer(d) < layer(m))
    assert not upward, "imports that point up (cli -> daemon -> engine -> roles -> config -> leaves):\n" + "\n".join(upward)


def test_every_module_has_a_role_or_is_a_leaf():
    """A new module lands in a role package; only small leaves live at the top."""
    top = sorted(name for name in modules() if name.count(".") == 1 and layer(name) == len(LAYERS))
    assert top == ["watcher.deadline", "watcher.logs", "watcher.models", "watcher.plaintext", "watcher.reasons",
                   "watcher.redact", "watcher.telemetry"]
