"""``make airflow`` (``inkasso_demo.simulator.stack``) on an Airflow home that ``make demo`` used first.

README's order is ``make demo``, then ``make airflow``. ``make demo`` runs the DAGs with
``dag.test``, which registers them under Airflow's default ``dags_are_paused_at_creation``:
paused. The stack's setup must turn them on, or every run ``inkasso_demo_day`` triggers stays
queued for good.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e

FLOWS = {
    "inkasso_bank_import",
    "inkasso_corrections",
    "inkasso_dispatch",
    "inkasso_inbound",
    "inkasso_report",
    "inkasso_demo_day",
}


def paused(home: Path) -> dict[str, bool]:
    """``is_paused`` of every DAG in the home's SQLite metadata database."""
    with sqlite3.connect(home / "airflow.db") as db:
        return {d: bool(p) for d, p in db.execute("SELECT dag_id, is_paused FROM dag")}


def test_the_stack_turns_on_dags_that_make_demo_registered_paused(tmp_path):
    from inkasso_demo.simulator.stack import Stack

    home = tmp_path / "airflow-home"
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "INKASSO", "PYTHONPATH"))
    }
    stack = Stack(home, env)
    stack.prepare()  # a fresh home: metadata database and pools, no DAG registered yet
    assert paused(home) == {}

    # what make demo's dag.test leaves: the DAGs registered under Airflow's own default (paused)
    demo_env = stack.env | {"AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True"}
    airflow = str(Path(sys.executable).parent / "airflow")
    subprocess.run(
        [airflow, "dags", "reserialize"],
        env=demo_env,
        cwd=PROJECT_ROOT,
        check=True,
        capture_output=True,
    )
    assert paused(home) == dict.fromkeys(FLOWS, True)

    stack.prepare()  # make airflow on that home
    assert paused(home) == dict.fromkeys(FLOWS, False)
