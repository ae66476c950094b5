"""No import cycles, between modules or between packages, and no SQL outside the store.

No module imports one that imports it back, directly or through others; no package (the
first level under ``nercurve``: ``corpus``, ``study``, ``analysis``, ``cli``, ``errors``, ...)
imports one that imports it back.

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
import re
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


def package_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    """Package -> the packages it imports: the module graph with every module folded into its
    first level under ``nercurve`` (``nercurve.study.store`` into ``study``; a top-level module
    such as ``nercurve.errors`` is a package of its own; ``nercurve`` itself is ``nercurve``)."""
    def package(module: str) -> str:
        parts = module.split(".")
        return parts[1] if len(parts) > 1 else parts[0]

    out: dict[str, set[str]] = {}
    for module, targets in graph.items():
        out.setdefault(package(module), set()).update(package(t) for t in targets)
    for name, targets in out.items():
        targets.discard(name)
    return out


#: SQL as it is written in a string: a statement's opening words (a PRAGMA named in a hint
#: to the user is words, not SQL).
_SQL = re.compile(r"\b(SELECT\s.+\sFROM|INSERT\s+(OR\s+\w+\s+)?INTO|UPDATE\s+\w+\s+SET|"
                  r"DELETE\s+FROM|CREATE\s+(TEMP\s+)?(TABLE|INDEX)|ALTER\s+TABLE)\b",
                  re.DOTALL)


def sql_in(path: Path) -> list[str]:
    """What in a module's source speaks SQL: an import of sqlite3, or a string holding SQL."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import | ast.ImportFrom):
            names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
            found += [f"import {n}" for n in names if n.split(".")[0] == "sqlite3"]
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found += [m.group(0)[:40] for m in _SQL.finditer(node.value)]
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


def test_every_import_of_nercurve_names_a_module_that_exists() -> None:
    # a TYPE_CHECKING import never runs: one left pointing at a moved module goes unnoticed
    files = module_files()
    missing = []
    for name, path in files.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and not node.level:
                targets = [node.module or ""]
            elif isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                continue
            missing += [f"{name}: {t}" for t in targets
                        if t.split(".")[0] == "nercurve" and t not in files]
    assert missing == []


def test_no_module_lies_on_an_import_cycle() -> None:
    assert cycles(import_graph()) == []


def test_the_corpus_readers_know_nothing_of_agreement_or_synthetic_data() -> None:
    graph = import_graph()
    for name, targets in graph.items():
        if name.startswith("nercurve.corpus"):
            assert not {t for t in targets
                        if t.startswith(("nercurve.agreement", "nercurve.synthetic"))}, name


def test_the_package_graph_folds_modules_into_packages() -> None:
    graph = {"nercurve.a.x": {"nercurve.b.y", "nercurve.a.z"}, "nercurve.a.z": set(),
             "nercurve.b.y": {"nercurve.errors"}, "nercurve.errors": set(),
             "nercurve.b": {"nercurve.a.x"}}
    assert package_graph(graph) == {"a": {"b"}, "b": {"errors", "a"}, "errors": set()}
    assert cycles(package_graph(graph)) == [["a", "b"]]


def test_no_package_imports_one_that_imports_it_back() -> None:
    assert cycles(package_graph(import_graph())) == []


def test_study_knows_nothing_of_analysis_or_report() -> None:
    assert not package_graph(import_graph())["study"] & {"analysis", "report", "cli"}


def test_the_sql_finder_sees_imports_and_statements(tmp_path: Path) -> None:
    code = tmp_path / "m.py"
    code.write_text('import sqlite3\nQ = "SELECT a FROM t"\nW = "UPDATE jobs SET x = 1"\n'
                    'OK = "select the best model from the families"\n')
    assert sql_in(code) == ["import sqlite3", "SELECT a FROM", "UPDATE jobs SET"]


def test_no_module_but_the_store_speaks_sql() -> None:
    store = ROOT / "study" / "store.py"
    found = {name: sql_in(path) for name, path in module_files().items() if path != store}
    assert {name: what for name, what in found.items() if what} == {}
    assert sql_in(store)
