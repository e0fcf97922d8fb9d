"""Shared test set-up: an Airflow home of the session's own, the ERP database on SQLite and PostgreSQL.

The environment is set when this file is imported, before any test imports airflow (STACK.md).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
_SESSION_DIR = Path(tempfile.mkdtemp(prefix="inkasso-tests-"))
os.environ["AIRFLOW_HOME"] = str(_SESSION_DIR / "airflow")
os.environ["AIRFLOW__CORE__LOAD_EXAMPLES"] = "False"
os.environ["AIRFLOW__CORE__DAGS_FOLDER"] = str(PROJECT_ROOT / "dags")
os.environ["AIRFLOW__CORE__PLUGINS_FOLDER"] = str(PROJECT_ROOT / "plugins")
os.environ["AIRFLOW__CORE__UNIT_TEST_MODE"] = "False"
os.environ["AIRFLOW__LOGGING__LOGGING_LEVEL"] = "WARNING"
os.environ.setdefault("INKASSO_BASE", str(_SESSION_DIR / "files"))

import json  # noqa: E402
from datetime import date  # noqa: E402

import pytest  # noqa: E402

from tests.pg import drop_postgres, new_postgres_url  # noqa: E402

REFERENCE_DIR = PROJECT_ROOT.parent / "shared" / "reference"

# Files that run longest, in the order they should start. `make test` runs the files in two
# processes (pytest-xdist, --dist loadfile, collection order kept): starting the quarter-hour of
# real-scheduler days first lets the other process work through everything else meanwhile.
SLOW_FIRST = (
    "tests/scheduler/test_backfill.py",  # four demo days under a real scheduler
    "tests/scheduler/",  # the Celery worker's day, the compose file
    "tests/inkasso_demo/test_demo.py",  # consecutive `make demo` days
    "tests/ui/test_browser.py",  # a real browser against a real api-server
    "tests/inkasso_demo/test_stack.py",
    "tests/dags/",  # the flows through dag.test()
)


def pytest_collection_modifyitems(config, items) -> None:
    """In an xdist worker (`make test`), run the files of `SLOW_FIRST` first (in its order),
    the rest as collected; a file's tests stay together and in their own order. A plain
    ``pytest`` keeps the collection order."""
    if not hasattr(config, "workerinput"):
        return

    def rank(item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next(
            (i for i, prefix in enumerate(SLOW_FIRST) if path.startswith(prefix)),
            len(SLOW_FIRST),
        )

    items.sort(key=rank)  # stable: collection order within a rank


@pytest.fixture(scope="session")
def airflow_db():
    """A migrated Airflow metadata database (SQLite) in the session's Airflow home."""
    from airflow.utils import db

    db.initdb()
    return os.environ["AIRFLOW_HOME"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def erp_url(request, tmp_path):
    """An empty ERP database URL, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'erp.sqlite'}"
        return
    url = new_postgres_url()
    yield url
    drop_postgres(url)


@pytest.fixture
def erp_engine(erp_url):
    """Engine on an ERP database with the demo ERP tables and the pipeline's migrations applied."""
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso.db.schema import erp_metadata

    engine = engine_for_url(erp_url)
    erp_metadata.create_all(engine)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def reference_dir() -> Path:
    """../shared/reference: real bank files. Missing means a broken checkout, so it fails."""
    if not REFERENCE_DIR.is_dir():
        pytest.fail(f"reference files not found at {REFERENCE_DIR} (../shared/reference)")
    return REFERENCE_DIR


# --------------------------------------------------------------- end-to-end DAG tests

DEMO_DAY = date(2026, 11, 2)


def frame(engine, sql: str, **params):
    """The rows of ``sql`` (with ``params``) on ``engine``, as a DataFrame."""
    import pandas as pd
    from sqlalchemy import text

    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(text(sql), params).mappings().all())


@pytest.fixture(scope="session")
def load_dag():
    """``load_dag(dag_id)``: the DAG freshly parsed from ``dags/`` (a DagBag of its own), with
    retries off, so that a failure fails the run at once instead of waiting out the delay."""

    def load(dag_id: str):
        from airflow.dag_processing.dagbag import DagBag

        dag = DagBag(dag_folder=str(PROJECT_ROOT / "dags")).get_dag(dag_id)
        for task in dag.tasks:
            task.retries = 0
        return dag

    return load


@pytest.fixture
def demo_erp(request, erp_engine, erp_url, monkeypatch):
    """A small generated demo ERP behind the `erp_db` connection.

    A test module may set ``DEMO_CUSTOMERS`` (default 400) and ``DAY`` (the generator's start day).
    """
    from inkasso_demo.erp.generator import create_demo_erp

    customers = getattr(request.module, "DEMO_CUSTOMERS", 400)
    start_day = getattr(request.module, "DAY", DEMO_DAY)
    create_demo_erp(erp_engine, seed=7, customers=customers, start_day=start_day)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ERP_DB",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": erp_url}}),
    )
    return erp_engine


@pytest.fixture
def files_base(tmp_path, monkeypatch):
    """The base of files at rest (``INKASSO_BASE``) in the test's own folder."""
    base = tmp_path / "files"
    monkeypatch.setenv("INKASSO_BASE", str(base))
    return base


@pytest.fixture
def agency(demo_erp, tmp_path, monkeypatch):
    """The SFTP agency simulator (a ``RunningAgency``): one account per automated agreement,
    host key pinned in the connections; its folders are under ``tmp_path / "sftp"``."""
    from inkasso.agreements import load_agreements
    from inkasso_demo.simulator.agency import start_agency

    running = start_agency(tmp_path / "sftp", tmp_path / "keys", load_agreements(demo_erp))
    for name, value in running.connections.items():
        monkeypatch.setenv(name, value)
    yield running
    running.stop()
