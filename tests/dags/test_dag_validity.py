"""DAG integrity: every DAG file imports, and every DAG has tags, docs, retries and a fixed id."""

from __future__ import annotations

import time

import pytest

from conftest import PROJECT_ROOT

EXPECTED_DAGS = {
    "inkasso_bank_import",
    "inkasso_corrections",
    "inkasso_dispatch",
    "inkasso_inbound",
    "inkasso_report",
}


@pytest.fixture(scope="module")
def dagbag():
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(PROJECT_ROOT / "dags"))


def test_no_import_errors(dagbag):
    assert dagbag.import_errors == {}


def test_expected_dag_ids(dagbag):
    assert EXPECTED_DAGS <= set(dagbag.dag_ids)


def test_every_dag_has_tags_docs_and_retries(dagbag):
    for dag_id, dag in dagbag.dags.items():
        assert dag.tags, f"{dag_id} has no tags"
        assert dag.doc_md and len(dag.doc_md) > 200, f"{dag_id} has no real doc_md"
        assert dag.catchup is False, f"{dag_id}: catchup must be off (backfills are explicit)"
        assert dag.start_date.tzinfo is not None, f"{dag_id}: start_date must be tz-aware"
        for task in dag.tasks:
            assert task.retries >= 1, f"{dag_id}.{task.task_id} has no retries"


def test_dag_files_parse_fast_without_heavy_imports():
    """A DAG file must not import pandas, GX, paramiko or the table schema at the top: the
    parse stays cheap."""
    import subprocess
    import sys

    for path in (PROJECT_ROOT / "dags").glob("*.py"):
        code = (
            "import sys, time, runpy; t = time.time(); runpy.run_path(sys.argv[1]); "
            "heavy = [m for m in ('pandas', 'great_expectations', 'paramiko', 'asyncssh', 'inkasso.db.schema') if m in sys.modules]; "
            "print(heavy)"
        )
        started = time.time()
        out = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        )
        assert out.stdout.strip().splitlines()[-1] == "[]", f"{path.name} imports {out.stdout}"
        assert time.time() - started < 30


def test_task_processes_load_the_plugins_without_the_view():
    """Every task process loads the plugins (for their macros): the UI plugin registers its view
    without importing it, so a task pays neither FastAPI nor the view's pandas and queries."""
    import subprocess
    import sys

    code = (
        "import sys; "
        "from airflow.sdk.plugins_manager import _get_plugins, integrate_macros_plugins; "
        "integrate_macros_plugins(); "
        "print([p.name for p in _get_plugins()[0]]); "
        "print([m for m in ('fastapi', 'pandas', 'inkasso.ui.app') if m in sys.modules])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert "inkasso_ui" in out[-2], out
    assert out[-1] == "[]", f"loading the plugins imported {out[-1]}"
