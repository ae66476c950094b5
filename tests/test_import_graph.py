"""No import cycles: no module imports one that imports it back, directly or through others.

The graph is read statically from every module's source: every ``import`` and ``from ...
import`` counts, at module level, inside functions and under ``TYPE_CHECKING`` alike (a
function-level import only hides a cycle). A package's ``__init__`` is the node of the
package; ``from pkg import name`` counts as an import of ``pkg.name`` when that is a
submodule, else of ``pkg``. The implicit import of a package before its submodules is not
counted, so a submodule that takes a name from its own package's ``__init__`` (which
re-exports the submodule) shows as the cycle it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

import nercurve

ROOT = Path(nercurve.__file__).parent


def module_files(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the nercurve package."""
    out = {}
    for path in root.rglob("*.py"):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The nercurve modules that module ``name`` (its source at ``path``) imports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                       for alias in node.names]
        else:
            continue
        found.update(t for t in targets if t in known)
    found.discard(name)
    return found


def import_graph() -> dict[str, set[str]]:
    """Module -> the nercurve modules it imports."""
    files = module_files()
    return {name: imports_of(name, path, set(files)) for name, path in files.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan's algorithm)."""
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


def test_the_graph_sees_function_level_and_type_checking_imports(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.b import X\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import a\n")
    files = module_files(tmp_path / "pkg")
    graph = {name: imports_of(name, path, set(files)) for name, path in files.items()}
    assert graph["pkg.a"] == {"pkg.b"}
    assert graph["pkg.b"] == {"pkg.a"}
    assert cycles(graph) == [["pkg.a", "pkg.b"]]


def test_the_moved_modules_are_gone() -> None:
    files = module_files()
    for old in ("nercurve.adjudicate", "nercurve.agreement_disagreements",
                "nercurve.agreement_report", "nercurve.corpus.synthetic",
                "nercurve.corpus.synthetic_entities", "nercurve.corpus.synthetic_vocab",
                "nercurve.corpus.annotators"):
        assert old not in files
    for new in ("nercurve.agreement.aligned", "nercurve.agreement.scores",
                "nercurve.agreement.disagreements", "nercurve.agreement.adjudicate",
                "nercurve.agreement.html", "nercurve.synthetic.coi",
                "nercurve.synthetic.annotators"):
        assert new in files


def test_no_module_lies_on_an_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_corpus_readers_know_nothing_of_agreement_or_synthetic_data() -> None:
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("nercurve.corpus"):
            assert not {t for t in targets
                        if t.startswith(("nercurve.agreement", "nercurve.synthetic"))}, name
