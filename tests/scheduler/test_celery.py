"""The CeleryExecutor end to end: api-server, scheduler, dag-processor, triggerer and a separate
``airflow celery worker`` as processes, Redis on 127.0.0.1:6379 as the broker, PostgreSQL as the
metadata database and Celery's result backend. One demo day is triggered through the REST API;
every task runs on the worker (its own queue), and the day's outcome is checked in the ERP, on
the agency's SFTP server and in the mail sink.
"""

from __future__ import annotations

import hashlib
import importlib.util
import socket
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.scheduler.stack_helpers import FLOWS, Api, running_stack, wait_for_dags

DAY = "2026-11-02"
REDIS = ("127.0.0.1", 6379)

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        importlib.util.find_spec("airflow.providers.celery") is None,
        reason="apache-airflow-providers-celery is not installed: "
        "pip install -r requirements.txt -c constraints.txt",
    ),
]


def _redis_answers() -> bool:
    try:
        with socket.create_connection(REDIS, timeout=2) as s:
            s.sendall(b"PING\r\n")
            return s.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The stack with the CeleryExecutor: a worker on a queue of its own, Redis broker."""
    # Redis is part of the development and CI machines, like PostgreSQL: its absence is an error
    assert _redis_answers(), f"no Redis on {REDIS[0]}:{REDIS[1]} (the Celery broker)"
    queue = f"inkasso-test-{uuid.uuid4().hex[:8]}"  # other runs on the same Redis stay apart

    def env_for(meta_url: str) -> dict[str, str]:
        backend = "db+postgresql" + meta_url[meta_url.index("://") :]
        return {
            "AIRFLOW__CORE__EXECUTOR": "CeleryExecutor",
            "AIRFLOW__CELERY__BROKER_URL": f"redis://{REDIS[0]}:{REDIS[1]}/0",
            "AIRFLOW__CELERY__RESULT_BACKEND": backend,
            "AIRFLOW__OPERATORS__DEFAULT_QUEUE": queue,
        }

    for running in running_stack(tmp_path_factory, env_for=env_for):
        running.queue = queue
        yield running


def test_a_demo_day_runs_on_a_celery_worker(stack):
    assert "celery-worker" in stack.procs
    api = Api(stack.api_url, stack.password())
    wait_for_dags(api, set(FLOWS) | {"inkasso_demo_day"})
    api.call(
        "POST",
        "/api/v2/dags/inkasso_demo_day/dagRuns",
        {"dag_run_id": "celery", "logical_date": f"{DAY}T02:00:00Z"},
    )
    state = api.wait_run("inkasso_demo_day", "celery", timeout=900)
    assert state == "success", api.failed_tasks("inkasso_demo_day", "celery")

    for dag_id in FLOWS:  # every flow succeeded, each of its tasks on the Celery worker's queue
        run_id = f"demo__{DAY}__{dag_id}"
        run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")
        assert run["state"] == "success", (dag_id, api.failed_tasks(dag_id, run_id))
        tis = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200")
        ran = [t for t in tis["task_instances"] if t["state"] == "success"]
        assert ran and {t["queue"] for t in ran} == {stack.queue}, (dag_id, ran[:2])
        assert all(t["hostname"] for t in ran)

    demo = Path(stack.home) / "inkasso-demo"
    erp = sa.create_engine(f"sqlite:///{demo / 'erp.sqlite'}")
    with erp.connect() as conn:
        sent = conn.execute(
            sa.text(
                "SELECT f.agreement_id, f.sha256, f.status, f.remote_path, a.mode "
                "FROM ink_file_log f JOIN ink_agreement a ON a.agreement_id = f.agreement_id "
                "WHERE f.direction = 'out' AND f.kind = 'new_cases' AND f.business_date = :d"
            ),
            {"d": DAY},
        ).all()
        waiting = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_case WHERE business_date = :d "
                "AND agency_case_ref IS NULL AND rejection_reason IS NULL"
            ),
            {"d": DAY},
        ).scalar()
        cases = conn.execute(
            sa.text("SELECT COUNT(*) FROM ink_case WHERE business_date = :d"), {"d": DAY}
        ).scalar()
        clients = conn.execute(sa.text("SELECT COUNT(*) FROM erp_client")).scalar()
        mails = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_mail_log WHERE business_date = :d AND status = 'sent'"
            ),
            {"d": DAY},
        ).scalar()
    assert sent and cases > 100
    for row in sent:  # on the agency's server byte for byte as logged
        if row.mode == "sftp":
            assert row.status == "delivered", row
            on_server = demo / "agency-sftp" / row.agreement_id / row.remote_path.lstrip("/")
            assert hashlib.sha256(on_server.read_bytes()).hexdigest() == row.sha256
    assert waiting == 0  # every case's receipt came back and was applied
    assert mails == clients
