"""The embedded default under a real Airflow: components as processes, LocalExecutor, PostgreSQL.

Starts what ``make airflow`` starts (``inkasso.simulator.stack``: the demo world's services, then
api-server, scheduler, dag-processor and triggerer) on a fresh Airflow home with the metadata
database in a fresh PostgreSQL database (Airflow's SQLite locks under backfills), triggers one
demo day of ``inkasso_demo_day`` through the REST API and checks its outcome in the ERP, on the
agency's SFTP server and in the mail sink.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.pg import drop_postgres, new_postgres_url

DAY = "2026-11-02"
FLOWS = (
    "inkasso_bank_import",
    "inkasso_corrections",
    "inkasso_dispatch",
    "inkasso_inbound",
    "inkasso_report",
)

pytestmark = pytest.mark.postgres


class Api:
    """A small REST client for Airflow's public API with a simple-auth-manager token."""

    def __init__(self, base: str, password: str):
        self.base = base
        self.token = self.call("POST", "/auth/token", {"username": "admin", "password": password})[
            "access_token"
        ]

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """One request; a non-2xx answer raises with its body."""
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Wait for a DAG run to end; returns its state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(5)
        raise AssertionError(f"{dag_id} {run_id} still not done after {timeout:.0f} s")

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        """The task instances of a run that did not succeed (for a readable failure)."""
        tis = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200")[
            "task_instances"
        ]
        return [
            f"{t['task_id']}[{t['map_index']}]: {t['state']}"
            for t in tis
            if t["state"] not in ("success", "skipped")
        ]


def running_stack(tmp_path_factory, env_for=None, **extra_env: str):
    """Generator: the stack on a fresh home and a fresh PostgreSQL metadata database, with
    ``extra_env`` and ``env_for(metadata_url)`` on top (for the other scheduler tests too)."""
    from inkasso.report.sink import free_port
    from inkasso.simulator.stack import Stack

    home = tmp_path_factory.mktemp("airflow-home")
    meta_url = new_postgres_url()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "INKASSO", "PYTHONPATH"))
    }
    env |= {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__API__PORT": str(free_port()),
        "INKASSO_DEMO_SFTP_PORT": str(free_port()),
        "INKASSO_DEMO_SMTP_PORT": str(free_port()),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    } | extra_env
    if env_for is not None:
        env |= env_for(meta_url)
    running = Stack(home, env)
    try:
        running.start(timeout=300)
        yield running
    finally:
        running.stop()
        drop_postgres(meta_url)


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The running stack on a fresh home and a fresh PostgreSQL metadata database."""
    yield from running_stack(tmp_path_factory)


def wait_for_dags(api: Api, wanted: set[str], timeout: float = 180) -> dict:
    """Wait for the dag-processor's first parse of ``wanted``; returns the DAGs by id."""
    deadline = time.monotonic() + timeout
    while True:
        dags = {d["dag_id"]: d for d in api.call("GET", "/api/v2/dags?limit=100")["dags"]}
        if wanted <= set(dags) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert wanted <= set(dags), sorted(dags)
    return dags


def test_a_demo_day_triggered_through_the_rest_api_runs_every_flow(stack):
    api = Api(stack.api_url, stack.password())
    dags = wait_for_dags(api, set(FLOWS) | {"inkasso_demo_day"})
    assert not any(d["is_paused"] for d in dags.values())
    assert "demo" in [t["name"] for t in dags["inkasso_demo_day"]["tags"]]

    api.call(
        "POST",
        "/api/v2/dags/inkasso_demo_day/dagRuns",
        {"dag_run_id": "day1", "logical_date": f"{DAY}T02:00:00Z"},  # 03:00 Europe/Oslo
    )
    state = api.wait_run("inkasso_demo_day", "day1", timeout=600)
    assert state == "success", api.failed_tasks("inkasso_demo_day", "day1")
    for dag_id in FLOWS:  # each flow ran once, for the day, and succeeded
        run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/demo__{DAY}__{dag_id}")
        assert run["state"] == "success", (dag_id, api.failed_tasks(dag_id, run["dag_run_id"]))
        assert run["logical_date"].startswith(DAY), run["logical_date"]

    demo = Path(stack.home) / "inkasso-demo"
    erp = sa.create_engine(f"sqlite:///{demo / 'erp.sqlite'}")
    with erp.connect() as conn:
        agreements = conn.execute(
            sa.text("SELECT agreement_id, mode FROM ink_agreement WHERE active")
        ).all()
        sent = conn.execute(
            sa.text(
                "SELECT agreement_id, file_name, sha256, status, remote_path FROM ink_file_log "
                "WHERE direction = 'out' AND kind = 'new_cases' AND business_date = :d"
            ),
            {"d": DAY},
        ).all()
        cases = conn.execute(
            sa.text(
                "SELECT status, COUNT(*) FROM ink_case WHERE business_date = :d GROUP BY status"
            ),
            {"d": DAY},
        ).all()
        bank_in = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_file_log WHERE direction = 'in' AND business_date = :d "
                "AND kind IN ('ocr_giro', 'bgmax') AND status = 'applied'"
            ),
            {"d": DAY},
        ).scalar()
        answers = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_file_log WHERE direction = 'in' AND business_date = :d "
                "AND kind NOT IN ('ocr_giro', 'bgmax') AND status = 'applied'"
            ),
            {"d": DAY},
        ).scalar()
        mails = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_mail_log WHERE business_date = :d AND status = 'sent'"
            ),
            {"d": DAY},
        ).scalar()
        clients = conn.execute(sa.text("SELECT COUNT(*) FROM erp_client")).scalar()

    automated = {a for a, mode in agreements if mode == "sftp"}
    # the bank's file of the day was read for every client
    assert bank_in == clients
    # one new-case file per agreement, each delivered; an automated one is on the agency's
    # server byte for byte as logged
    assert {row.agreement_id for row in sent} == {a for a, _ in agreements}
    assert len(sent) == len(agreements)
    for row in sent:
        if row.agreement_id in automated:
            assert row.status == "delivered", row
            on_server = demo / "agency-sftp" / row.agreement_id / row.remote_path.lstrip("/")
            assert hashlib.sha256(on_server.read_bytes()).hexdigest() == row.sha256
    # the agency's receipts were fetched and applied: every case of the day is accepted
    # (with the agency's reference) or rejected, none still waiting for its receipt
    by_status = dict(cases)
    assert sum(by_status.values()) > 100, by_status
    assert answers >= len(agreements), answers
    with erp.connect() as conn:
        waiting = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_case WHERE business_date = :d "
                "AND agency_case_ref IS NULL AND rejection_reason IS NULL"
            ),
            {"d": DAY},
        ).scalar()
    assert waiting == 0, by_status
    # one summary mail per client, through the SMTP sink
    assert mails == clients
    assert len(list((demo / "mail").glob("*.eml"))) == clients
