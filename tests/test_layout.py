"""Production code imports nothing of the demo: a worker without ``inkasso_demo`` runs every flow."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import PROJECT_ROOT

DEMO = "inkasso_demo"
FLOW_DAGS = ("dispatch", "bank_import", "inbound", "corrections", "report")


def production_files() -> list[Path]:
    """The production package, the UI plugin and the five flow DAG files."""
    plugins = PROJECT_ROOT / "plugins"
    files = sorted((plugins / "inkasso").rglob("*.py")) + [plugins / "inkasso_ui.py"]
    return files + [PROJECT_ROOT / "dags" / f"inkasso_{name}.py" for name in FLOW_DAGS]


def demo_imports(source: str) -> list[str]:
    """The modules of ``inkasso_demo`` that ``source`` imports, anywhere in it (functions too)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [n for n in names if n == DEMO or n.startswith(DEMO + ".")]
    return found


def test_the_check_sees_every_form_of_import():
    source = (
        "import inkasso_demo\n"
        "from inkasso_demo.erp import ids\n"
        "def f():\n    import inkasso_demo.simulator.keys as k\n"
        "from inkasso.report import sink\nimport inkasso_demonstration\n"
    )
    assert demo_imports(source) == [
        "inkasso_demo",
        "inkasso_demo.erp",
        "inkasso_demo.simulator.keys",
    ]


def test_no_production_module_imports_the_demo():
    files = production_files()
    assert len(files) > 50 and all(f.is_file() for f in files)
    offenders = {
        str(f.relative_to(PROJECT_ROOT)): hits
        for f in files
        if (hits := demo_imports(f.read_text(encoding="utf-8")))
    }
    assert offenders == {}, f"production modules import the demo package: {offenders}"
