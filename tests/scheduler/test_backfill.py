"""The daily flows under a real scheduler (LocalExecutor, PostgreSQL metadata), in the order a
new user meets them, on one running stack (``stack_helpers.py``: services, api-server,
scheduler, dag-processor, triggerer as processes):

1. a demo day triggered through the REST API, checked in the ERP, on the agency's SFTP server
   and in the mail sink;
2. the next three demo days with ``airflow backfill create``, one of them reprocessed
   (``--reprocess-behavior completed``): nothing sent, opened, booked or mailed twice, every
   agency file on its day;
3. the data-aware order: a backfilled ``inkasso_corrections`` waits for the same day's bank
   import, and a report of a day whose flows did not run says so.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.scheduler.stack_helpers import FLOWS, Api, running_stack, wait_for_dags

pytestmark = pytest.mark.postgres

TRIGGERED = "2026-11-02"  # the demo's first day, through the REST API
DAYS = ("2026-11-03", "2026-11-04", "2026-11-05")  # then backfilled
REPROCESSED = "2026-11-04"
GATED = "2026-11-06"  # played by the flows' own backfills, without the demo world


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The stack, with the upstream sensors looking every 30 s instead of every 2 minutes
    (not less: a reschedule shorter than a loaded worker takes to report the poke races the
    executor, and Airflow then marks the sensor for retry)."""
    yield from running_stack(tmp_path_factory, INKASSO_UPSTREAM_POKE_SECONDS="30")


def test_a_demo_day_triggered_through_the_rest_api_runs_every_flow(stack):
    api = Api(stack.api_url, stack.password())
    dags = wait_for_dags(api, set(FLOWS) | {"inkasso_demo_day"})
    assert not any(d["is_paused"] for d in dags.values())
    assert "demo" in [t["name"] for t in dags["inkasso_demo_day"]["tags"]]

    api.call(
        "POST",
        "/api/v2/dags/inkasso_demo_day/dagRuns",
        {"dag_run_id": "day1", "logical_date": f"{TRIGGERED}T02:00:00Z"},  # 03:00 Europe/Oslo
    )
    state = api.wait_run("inkasso_demo_day", "day1", timeout=600)
    assert state == "success", api.failed_tasks("inkasso_demo_day", "day1")
    for dag_id in FLOWS:  # each flow ran once, for the day, and succeeded
        run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/demo__{TRIGGERED}__{dag_id}")
        assert run["state"] == "success", (dag_id, api.failed_tasks(dag_id, run["dag_run_id"]))
        assert run["logical_date"].startswith(TRIGGERED), run["logical_date"]

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
            {"d": TRIGGERED},
        ).all()
        cases = conn.execute(
            sa.text(
                "SELECT status, COUNT(*) FROM ink_case WHERE business_date = :d GROUP BY status"
            ),
            {"d": TRIGGERED},
        ).all()
        bank_in = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_file_log WHERE direction = 'in' AND business_date = :d "
                "AND kind IN ('ocr_giro', 'bgmax') AND status = 'applied'"
            ),
            {"d": TRIGGERED},
        ).scalar()
        answers = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_file_log WHERE direction = 'in' AND business_date = :d "
                "AND kind NOT IN ('ocr_giro', 'bgmax') AND status = 'applied'"
            ),
            {"d": TRIGGERED},
        ).scalar()
        mails = conn.execute(
            sa.text(
                "SELECT COUNT(*) FROM ink_mail_log WHERE business_date = :d AND status = 'sent'"
            ),
            {"d": TRIGGERED},
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
            {"d": TRIGGERED},
        ).scalar()
    assert waiting == 0, by_status
    # one summary mail per client, through the SMTP sink
    assert mails == clients
    assert len(list((demo / "mail").glob("*.eml"))) == clients


def airflow_cli(stack, *args: str) -> str:
    """Run one ``airflow`` command in the stack's environment; returns its output."""
    done = subprocess.run(
        [str(Path(sys.executable).parent / "airflow"), *args],
        env=stack.env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done.stdout


def backfill(stack, dag_id: str, first: str, last: str, *extra: str) -> None:
    """``airflow backfill create`` over the days ``first`` to ``last``, one run at a time."""
    airflow_cli(
        stack,
        "backfill",
        "create",
        "--dag-id",
        dag_id,
        "--from-date",
        first,
        "--to-date",
        f"{last}T23:59",
        "--max-active-runs",
        "1",
        *extra,
    )


def wait_backfills_done(api: Api, dag_id: str, count: int, timeout: float) -> list[dict]:
    """Wait until ``count`` backfills of ``dag_id`` have completed; returns its backfill runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        fills = api.call("GET", f"/api/v2/backfills?dag_id={dag_id}&limit=50")["backfills"]
        if len(fills) >= count and all(f["completed_at"] for f in fills):
            break
        time.sleep(5)
    else:
        raise AssertionError(f"backfills of {dag_id} not done after {timeout:.0f} s: {fills}")
    return api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&limit=100")["dag_runs"]


def snapshot(conn) -> dict:
    """What must not change when a day is played again: files, cases, money, mails."""
    one = lambda sql: conn.execute(sa.text(sql)).scalar()  # noqa: E731
    return {
        "files_out": conn.execute(
            sa.text(
                "SELECT agreement_id, kind, business_date, file_name, sha256, status "
                "FROM ink_file_log WHERE direction = 'out' ORDER BY file_id"
            )
        ).all(),
        "files_in": one("SELECT COUNT(*) FROM ink_file_log WHERE direction = 'in'"),
        "cases": one("SELECT COUNT(*) FROM ink_case"),
        "corrections": one("SELECT COUNT(*) FROM ink_correction"),
        "payments": one("SELECT COUNT(*) FROM erp_payment"),
        "payment_total": one("SELECT COALESCE(SUM(amount), 0) FROM erp_payment"),
        "adjustments": one("SELECT COUNT(*) FROM erp_invoice_adjustment"),
        "collections": one("SELECT COUNT(*) FROM ink_collection"),
        "mails": conn.execute(
            sa.text(
                "SELECT client_id, business_date, attempt, status FROM ink_mail_log "
                "ORDER BY mail_id"
            )
        ).all(),
    }


def assert_nothing_twice(conn) -> None:
    """No invoice with two cases, no file sent or read twice, no payment booked twice."""
    twice = {
        "cases per invoice": "SELECT invoice_id FROM ink_case GROUP BY invoice_id "
        "HAVING COUNT(*) > 1",
        "files out": "SELECT agreement_id, sha256 FROM ink_file_log WHERE direction = 'out' "
        "GROUP BY agreement_id, sha256 HAVING COUNT(*) > 1",
        "new-case files per agreement and day": "SELECT agreement_id, business_date "
        "FROM ink_file_log WHERE direction = 'out' AND kind = 'new_cases' "
        "GROUP BY agreement_id, business_date HAVING COUNT(*) > 1",
        "files in": "SELECT agreement_id, file_name, sha256 FROM ink_file_log "
        "WHERE direction = 'in' GROUP BY agreement_id, file_name, sha256 HAVING COUNT(*) > 1",
        "payments": "SELECT bank_file, payment_ref FROM erp_payment "
        "GROUP BY bank_file, payment_ref HAVING COUNT(*) > 1",
        "corrections": "SELECT source, source_id FROM ink_correction "
        "GROUP BY source, source_id HAVING COUNT(*) > 1",
        "mails": "SELECT client_id, business_date FROM ink_mail_log WHERE status = 'sent' "
        "GROUP BY client_id, business_date HAVING COUNT(*) > 1",
    }
    for what, sql in twice.items():
        assert conn.execute(sa.text(sql)).all() == [], f"{what} twice"


def test_three_backfilled_days_one_reprocessed_nothing_twice_every_file_on_its_day(stack):
    api = Api(stack.api_url, stack.password())
    wait_for_dags(api, set(FLOWS) | {"inkasso_demo_day"})
    erp = sa.create_engine(f"sqlite:///{Path(stack.home) / 'inkasso-demo' / 'erp.sqlite'}")

    backfill(stack, "inkasso_demo_day", DAYS[0], DAYS[-1])
    runs = wait_backfills_done(api, "inkasso_demo_day", 1, timeout=900)
    assert sorted(r["logical_date"][:10] for r in runs) == list(DAYS)
    assert {r["state"] for r in runs} == {"success"}, runs
    for day in DAYS:  # each flow ran for each day and succeeded
        for dag_id in FLOWS:
            run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/demo__{day}__{dag_id}")
            assert run["state"] == "success", (
                day,
                dag_id,
                api.failed_tasks(dag_id, run["dag_run_id"]),
            )

    with erp.connect() as conn:
        before = snapshot(conn)
        assert_nothing_twice(conn)
        clients = conn.execute(sa.text("SELECT COUNT(*) FROM erp_client")).scalar()
        agreements = conn.execute(
            sa.text("SELECT COUNT(*) FROM ink_agreement WHERE active")
        ).scalar()
        per_day = dict(
            conn.execute(
                sa.text(
                    "SELECT business_date, COUNT(*) FROM ink_file_log WHERE direction = 'out' "
                    "AND kind = 'new_cases' GROUP BY business_date"
                )
            ).all()
        )
    # one new-case file per agreement and day, one mail per client and day
    # (and the day triggered before them)
    days = (TRIGGERED, *DAYS)
    assert {str(d): n for d, n in per_day.items()} == {d: agreements for d in days}
    assert len([m for m in before["mails"] if m.status == "sent"]) == clients * len(days)

    backfill(
        stack, "inkasso_demo_day", REPROCESSED, REPROCESSED, "--reprocess-behavior", "completed"
    )
    runs = wait_backfills_done(api, "inkasso_demo_day", 2, timeout=600)
    again = next(r for r in runs if r["logical_date"].startswith(REPROCESSED))
    assert again["state"] == "success", api.failed_tasks("inkasso_demo_day", again["dag_run_id"])
    assert sorted(r["logical_date"][:10] for r in runs) == list(DAYS)  # the same run, again
    for dag_id in FLOWS:  # the day's flows ran again (reset) and succeeded
        run = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/demo__{REPROCESSED}__{dag_id}")
        assert run["state"] == "success", (dag_id, api.failed_tasks(dag_id, run["dag_run_id"]))
        assert _at(run["start_date"]) > _at(again["start_date"]), (dag_id, run, again)

    with erp.connect() as conn:
        assert snapshot(conn) == before  # nothing sent, opened, booked or mailed again
        assert_nothing_twice(conn)
        # every receipt was read on the day its case was sent (the agency answers the same day):
        # no agency file was filed under another day
        misfiled = conn.execute(
            sa.text(
                "SELECT c.case_id, c.business_date, f.business_date FROM ink_case c "
                "JOIN ink_case_event e ON e.case_id = c.case_id "
                "JOIN ink_file_log f ON f.file_id = e.file_id "
                "WHERE f.direction = 'in' AND f.kind = 'receipt' "
                "AND f.business_date <> c.business_date"
            )
        ).all()
        assert misfiled == []
        receipts = conn.execute(
            sa.text(
                "SELECT COUNT(DISTINCT business_date) FROM ink_file_log "
                "WHERE direction = 'in' AND kind = 'receipt'"
            )
        ).scalar()
    assert receipts == len(DAYS) + 1  # and the triggered day's


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _task_states(api: Api, dag_id: str, run_id: str) -> dict[str, dict]:
    tis = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200")
    return {t["task_id"]: t for t in tis["task_instances"] if t["map_index"] in (-1, 0)}


def _backfill_run(api: Api, dag_id: str, day: str) -> dict | None:
    runs = api.call("GET", f"/api/v2/dags/{dag_id}/dagRuns?run_type=backfill&limit=100")
    found = [r for r in runs["dag_runs"] if r["logical_date"].startswith(day)]
    return found[0] if found else None


def test_backfilled_corrections_wait_for_the_days_bank_import_and_the_report_names_what_did_not_run(
    stack,
):
    api = Api(stack.api_url, stack.password())
    wait_for_dags(api, set(FLOWS))

    backfill(stack, "inkasso_corrections", GATED, GATED)
    deadline = time.monotonic() + 120
    while True:  # the sensor has poked and found no bank import of the day
        run = _backfill_run(api, "inkasso_corrections", GATED)
        tis = _task_states(api, "inkasso_corrections", run["dag_run_id"]) if run else {}
        waiting = tis.get("wait_for_bank_import", {}).get("state")
        if waiting == "up_for_reschedule" or time.monotonic() > deadline:
            break
        time.sleep(2)
    assert waiting == "up_for_reschedule", tis
    assert tis["agreements"]["state"] in (None, "scheduled", "queued", "none"), tis
    with sa.create_engine(
        f"sqlite:///{Path(stack.home) / 'inkasso-demo' / 'erp.sqlite'}"
    ).connect() as conn:
        assert not conn.execute(
            sa.text("SELECT COUNT(*) FROM ink_file_log WHERE business_date = :d"), {"d": GATED}
        ).scalar()

    backfill(stack, "inkasso_bank_import", GATED, GATED)
    wait_backfills_done(api, "inkasso_bank_import", 1, timeout=300)
    wait_backfills_done(api, "inkasso_corrections", 1, timeout=300)
    bank = _backfill_run(api, "inkasso_bank_import", GATED)
    corr = _backfill_run(api, "inkasso_corrections", GATED)
    assert bank["state"] == corr["state"] == "success", (bank, corr)
    bank_done = _task_states(api, "inkasso_bank_import", bank["dag_run_id"])["summarize"]
    corr_tis = _task_states(api, "inkasso_corrections", corr["dag_run_id"])
    # the corrections went on only after the bank import of the same day had finished
    assert _at(corr_tis["wait_for_bank_import"]["end_date"]) >= _at(bank_done["end_date"])
    assert _at(corr_tis["agreements"]["start_date"]) >= _at(bank_done["end_date"])

    # the report of that day, triggered by hand: dispatch and inbound never ran for it
    api.call(
        "POST",
        "/api/v2/dags/inkasso_report/dagRuns",
        {"dag_run_id": "gated", "logical_date": f"{GATED}T06:00:00Z"},
    )
    assert api.wait_run("inkasso_report", "gated", timeout=300) == "success", api.failed_tasks(
        "inkasso_report", "gated"
    )
    mails = sorted((Path(stack.env["INKASSO_BASE"]) / "reports" / GATED).glob("*.txt"))
    assert mails
    for path in mails:
        text = path.read_text()
        assert f"dispatch for {GATED} did not run" in text
        assert f"inbound for {GATED} did not run" in text
        assert f"bank import for {GATED} did not run" not in text
        assert f"corrections for {GATED} did not run" not in text
