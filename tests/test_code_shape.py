"""The code keeps its shape: short functions (or a stated reason) and no import circles.

(a) Every function or method in ``plugins/`` and ``dags/`` is at most ``MAX_LINES`` lines long,
unless its docstring says why (a phrase like "Long because ...").
(b) The modules of ``plugins/inkasso`` import each other without a circle: the graph of their
module-level imports (``if TYPE_CHECKING:`` blocks left out) has no cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]

MAX_LINES = 60
REASON = "long because"
PACKAGE = "inkasso"

# Functions over the limit with no stated reason that are tolerated for now: empty, and it may
# only shrink (an entry that is no longer long fails the test). Each is "<path>:<qualified name>".
KNOWN_LONG: set[str] = set()


# ----------------------------------------------------------------------------- function length
def long_functions(source: str, limit: int = MAX_LINES) -> dict[str, int]:
    """Qualified name -> line count of each function longer than ``limit`` without a reason."""
    found: dict[str, int] = {}

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                length = child.end_lineno - child.lineno + 1
                reason = REASON in (ast.get_docstring(child) or "").lower()
                if length > limit and not reason:
                    found[name] = length
                visit(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                visit(child, prefix + child.name + ".")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def code_files() -> list[Path]:
    """Every Python file under ``plugins/`` and ``dags/``."""
    return sorted((PROJECT_ROOT / "plugins").rglob("*.py")) + sorted(
        (PROJECT_ROOT / "dags").rglob("*.py")
    )


def test_the_length_check_counts_nested_functions_and_methods_and_honours_a_reason():
    def body(n: int, indent: int) -> str:
        return (" " * indent + "x = 1\n") * n

    source = (
        f"def short():\n{body(59, 4)}"  # 60 lines: allowed
        f"def long():\n{body(60, 4)}"  # 61 lines
        f'def explained():\n    """Long because it declares a table."""\n{body(70, 4)}'
        f"class C:\n    def method(self):\n{body(61, 8)}"
        f"def outer():\n    def inner():\n{body(61, 8)}"
    )
    found = long_functions(source)
    assert found == {"long": 61, "C.method": 62, "outer": 63, "outer.inner": 62}


def test_no_function_is_longer_than_sixty_lines_without_a_reason():
    files = code_files()
    assert len(files) > 50
    offenders = {
        f"{f.relative_to(PROJECT_ROOT)}:{name}": length
        for f in files
        for name, length in long_functions(f.read_text(encoding="utf-8")).items()
    }
    unexpected = {k: v for k, v in offenders.items() if k not in KNOWN_LONG}
    assert unexpected == {}, (
        f"functions over {MAX_LINES} lines with no 'Long because' in their docstring: {unexpected}"
    )
    # an entry fixed elsewhere must leave the list, so that the list only ever shrinks
    stale = KNOWN_LONG - set(offenders)
    assert stale == set(), f"no longer long, remove from KNOWN_LONG: {sorted(stale)}"


# ----------------------------------------------------------------------------- import circles
def module_name(path: Path, root: Path) -> str:
    """``plugins/inkasso/formats/layout.py`` -> ``inkasso.formats.layout`` (packages: no __init__)."""
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _module_level_imports(tree: ast.Module):
    """The import statements run when the module is imported (not in functions, classes'
    methods or ``if TYPE_CHECKING:`` blocks; both branches of other ``if``/``try`` count)."""
    pending = list(tree.body)
    while pending:
        node = pending.pop(0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            yield node
        elif isinstance(node, ast.If):
            if not _is_type_checking(node.test):
                pending += node.body
            pending += node.orelse
        elif isinstance(node, ast.Try):
            pending += node.body + node.orelse + node.finalbody
            for handler in node.handlers:
                pending += handler.body
        elif isinstance(node, (ast.With, ast.ClassDef)):
            pending += node.body


def _every_import(tree: ast.Module):
    """Every import statement, in functions and ``if TYPE_CHECKING:`` blocks too."""
    return (n for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)))


def imported_modules(
    source: str, name: str, is_package: bool, known: set[str], everywhere: bool = False
) -> set[str]:
    """The modules of ``known`` that module ``name`` imports at module level (``everywhere``:
    in functions and type-checking blocks too).

    ``from a.b import c`` names ``a.b.c`` when that is a module, else ``a.b``; relative imports
    are resolved against ``name``.
    """
    found: set[str] = set()
    tree = ast.parse(source)
    for node in _every_import(tree) if everywhere else _module_level_imports(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:
                package = name.split(".") if is_package else name.split(".")[:-1]
                anchor = package[: len(package) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            targets = [f"{base}.{alias.name}" for alias in node.names]
            targets = [t if t in known else base for t in targets]
        found |= {t for t in targets if t in known and t != name}
    return found


def import_graph(
    root: Path, package: str = PACKAGE, everywhere: bool = False
) -> dict[str, set[str]]:
    """Module -> the package's modules it imports (at module level unless ``everywhere``)."""
    files = sorted((root / package).rglob("*.py"))
    names = {module_name(f, root): f for f in files}
    known = set(names)
    return {
        name: imported_modules(
            f.read_text(encoding="utf-8"), name, f.name == "__init__.py", known, everywhere
        )
        for name, f in names.items()
    }


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Each import circle once, as module names (the strongly connected components of size > 1,
    or a module importing itself), found with Tarjan's algorithm."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def connect(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1 or node in graph.get(node, ()):
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            connect(node)
    return sorted(found)


def test_the_circle_check_finds_a_circle_and_ignores_type_checking_and_function_imports():
    known = {"pkg", "pkg.a", "pkg.b", "pkg.c", "pkg.d"}
    sources = {
        "pkg.a": "from pkg.b import thing\n",
        "pkg.b": "from . import c\n",
        "pkg.c": "import pkg.a\n",
        "pkg.d": (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import x\n"
            "def f():\n    from pkg.a import y\n"
        ),
        "pkg": "",
    }
    graph = {
        name: imported_modules(src, name, name == "pkg", known) for name, src in sources.items()
    }
    assert graph["pkg.b"] == {"pkg.c"}
    assert graph["pkg.d"] == set()
    assert cycles(graph) == [["pkg.a", "pkg.b", "pkg.c"]]
    strict = imported_modules(sources["pkg.d"], "pkg.d", False, known, everywhere=True)
    assert strict == {"pkg.a"}


def test_the_modules_of_inkasso_import_each_other_without_a_circle():
    graph = import_graph(PROJECT_ROOT / "plugins")
    assert len(graph) > 50 and "inkasso.formats.layout" in graph
    assert "inkasso.formats.spec" in graph["inkasso.formats.layout"]
    assert cycles(graph) == [], "import circles among the modules of plugins/inkasso"


def test_the_format_engine_has_no_circle_even_through_lazy_or_type_checking_imports():
    # the layout reads and writes through reader.py and writer.py; these take the declaration
    # (spec.LayoutSpec) and never import layout.py back, not even for a type or inside a function
    graph = import_graph(PROJECT_ROOT / "plugins", everywhere=True)
    formats = {
        name: {t for t in targets if t.startswith("inkasso.formats.")}
        for name, targets in graph.items()
        if name.startswith("inkasso.formats.")
    }
    assert {"inkasso.formats.reader", "inkasso.formats.writer"} <= formats["inkasso.formats.layout"]
    assert cycles(formats) == []
