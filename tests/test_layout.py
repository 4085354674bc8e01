"""The package's layout: stages in data-flow order, imports that only point down, no import loop.

Read from the source (every ``import``, function-level ones included; ``if TYPE_CHECKING:`` blocks
never run and are left out), so a loop hidden in a function is caught before it bites.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Bottom to top: a module may import its own stage and the stages before it, never one after it.
STAGES = (
    "emokit.core",
    "emokit.config",
    "emokit.data",
    "data_prep",
    "emokit.model",
    "emokit.training",
    "emokit.inference",
    "emokit.evaluation",
    "emokit.experiment",
    "emokit.course",
    "emokit",  # the package's own face (ExperimentConfig, class_names, predict)
)
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def source_modules() -> dict[str, Path]:
    files = [*ROOT.joinpath("emokit").rglob("*.py"), *ROOT.joinpath("data_prep").rglob("*.py")]
    return {module_name(p): p for p in sorted(files)}


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _imports(tree: ast.AST):
    """Every import node that can run, function-level ones included."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and _is_type_checking(node):
            yield from (n for child in node.orelse for n in _imports_of(child))
            continue
        yield from _imports_of(node)


def _imports_of(node: ast.AST):
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        yield node
    else:
        yield from _imports(node)


def imported_modules(path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules ``path`` imports: ``from a import b`` counts as ``a.b`` where that is a
    module, else as ``a``."""
    found = set()
    for node in _imports(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif node.level:
            raise AssertionError(f"{path}: relative import; write it out (from emokit...)")
        else:
            targets = [f"{node.module}.{alias.name}" if f"{node.module}.{alias.name}" in modules
                       else node.module for alias in node.names]
        found |= {t for t in targets if t in modules}
    return found - {module_name(path)}


def stage_of(module: str) -> int:
    ranks = [i for i, stage in enumerate(STAGES) if module == stage or module.startswith(stage + ".")]
    assert ranks, f"{module} belongs to no stage: add it to a stage package"
    return ranks[0]


def import_graph() -> dict[str, set[str]]:
    modules = source_modules()
    return {name: imported_modules(path, modules) for name, path in modules.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph.get(v, ())):
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


def test_no_import_loop():
    loops = cycles(import_graph())
    assert not loops, "import loops (function-level imports included):\n" + "\n".join(
        " <-> ".join(c) for c in loops)


def test_imports_only_point_down_the_stages():
    graph = import_graph()
    upward = [f"{a} ({STAGES[stage_of(a)]}) imports {b} ({STAGES[stage_of(b)]})"
              for a in sorted(graph) for b in sorted(graph[a]) if stage_of(b) > stage_of(a)]
    assert not upward, "imports pointing back up the data flow:\n" + "\n".join(upward)


def test_a_module_imports_its_siblings_not_its_own_package_face():
    """``from emokit.config import X`` inside ``emokit.config`` runs the package's ``__init__``
    half-way through its own import: siblings import siblings."""
    graph = import_graph()
    inward = [f"{a} imports {b}" for a in sorted(graph) for b in graph[a]
              if a.startswith(b + ".")]
    assert not inward, "\n".join(inward)


def test_every_module_stays_readable():
    long = {name: n for name, path in source_modules().items()
            if (n := len(path.read_text().splitlines())) > MAX_LINES}
    assert not long, f"modules over {MAX_LINES} lines (split by concern): {long}"


def test_every_stage_package_says_what_it_owns():
    for stage in STAGES:
        if stage in ("emokit", "emokit.inference"):
            continue
        init = ROOT.joinpath(*stage.split("."), "__init__.py")
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert len(doc.split()) >= 20, f"{init}: a docstring saying what the stage owns"


@pytest.mark.parametrize("graph,expected", [
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": set()}, [["a", "b", "c"]]),
    ({"a": {"b"}, "b": set()}, []),
])
def test_the_loop_finder_finds_loops(graph, expected):
    assert cycles(graph) == expected


def test_the_reader_sees_function_level_and_skips_type_checking_imports(tmp_path, monkeypatch):
    package = tmp_path / "emokit"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from emokit import c\n"
        "def f():\n    from emokit import b\n")
    (package / "b.py").write_text("")
    (package / "c.py").write_text("")
    monkeypatch.setattr(__import__(__name__), "ROOT", tmp_path)
    modules = {"emokit": package / "__init__.py", "emokit.a": package / "a.py",
               "emokit.b": package / "b.py", "emokit.c": package / "c.py"}
    assert imported_modules(package / "a.py", modules) == {"emokit.b"}
