"""inkasso_dispatch end to end: real Airflow runs (dag.test) against the in-process SFTP agency,
on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select, update

from conftest import frame

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 2)
OSLO = "Europe/Oslo"


@pytest.fixture(scope="module")
def dispatch_dag(load_dag):
    return load_dag("inkasso_dispatch")


def run(dag, day=DAY):
    import pendulum

    return dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, 5, tz=OSLO))


def remote_files(sftp_root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(sftp_root)): p.read_bytes()
        for p in sorted(sftp_root.rglob("*"))
        if p.is_file()
    }


def read_back(engine, file_row, data: bytes) -> dict[int, int]:
    from inkasso.formats import load_layout, load_profile

    agency = frame(
        engine,
        "SELECT agency FROM ink_agreement WHERE agreement_id = :a",
        a=file_row["agreement_id"],
    )
    layout = load_layout(load_profile(agency["agency"][0]).files["new_cases"].layout)
    details = layout.read(data, file_row["file_name"]).details()
    return dict(
        zip(details["case_id"].astype(int), details["remaining_amount"].astype(int), strict=True)
    )


def test_a_day_sends_each_agreement_one_file_that_reads_back_to_its_cases(
    airflow_db, demo_erp, agency, files_base, dispatch_dag, tmp_path
):
    marked_before = frame(
        demo_erp, "SELECT COUNT(*) AS n FROM erp_invoice WHERE marked_for_collection = :y", y=True
    )
    dag_run = run(dispatch_dag)
    assert dag_run.state == "success"

    files = frame(
        demo_erp, "SELECT f.*, a.mode FROM ink_file_log f JOIN ink_agreement a USING (agreement_id)"
    )
    assert len(files) >= 6, "the demo data has marked invoices for most agreements"
    assert set(files["status"]) <= {"delivered", "exported"}
    assert files.groupby("agreement_id").size().max() == 1
    sftp_root = tmp_path / "sftp"
    for f in files.to_dict("records"):
        if f["mode"] == "sftp":
            data = (sftp_root / f["agreement_id"] / f["remote_path"].lstrip("/")).read_bytes()
        else:
            data = Path(f["remote_path"].removeprefix("file://")).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        cases = frame(
            demo_erp, "SELECT case_id, sent_amount FROM ink_case WHERE file_id = :f", f=f["file_id"]
        )
        assert read_back(demo_erp, f, data) == dict(
            zip(cases["case_id"], cases["sent_amount"], strict=True)
        )
        assert f["amount_total"] == int(cases["sent_amount"].sum())
    assert not [p for p in sftp_root.rglob("*.part")]

    # every case's invoice is at collection and no longer marked; every case has its history
    invoices = frame(
        demo_erp,
        "SELECT i.status, i.marked_for_collection, i.remaining_amount, k.sent_amount, i.addr_street "
        "FROM ink_case k JOIN erp_invoice i ON i.invoice_id = k.invoice_id",
    )
    assert set(invoices["status"]) == {"at_collection"}
    assert not invoices["marked_for_collection"].astype(bool).any()
    assert (invoices["remaining_amount"] == invoices["sent_amount"]).all()
    assert invoices["addr_street"].notna().all(), "the address sent is on the invoice"
    events = frame(demo_erp, "SELECT kind, COUNT(*) AS n FROM ink_case_event GROUP BY kind")
    n_cases = frame(demo_erp, "SELECT COUNT(*) AS n FROM ink_case")["n"][0]
    kinds = dict(zip(events["kind"], events["n"], strict=True))
    assert kinds["opened"] == n_cases
    assert kinds.get("delivered", 0) + kinds.get("exported", 0) == n_cases

    # whatever was marked and not sent is held back with a reason
    holds = frame(demo_erp, "SELECT reason, COUNT(*) AS n FROM ink_dispatch_hold GROUP BY reason")
    assert n_cases + holds["n"].sum() == marked_before["n"][0]
    assert {"below_minimum", "invalid_national_id", "disputed"} <= set(holds["reason"])
    still_marked = frame(
        demo_erp,
        "SELECT COUNT(*) AS n FROM erp_invoice i JOIN ink_dispatch_hold h ON h.invoice_id = i.invoice_id "
        "WHERE i.marked_for_collection = :y AND i.status <> 'at_collection'",
        y=True,
    )
    assert still_marked["n"][0] == holds["n"].sum()


def test_rerun_of_the_same_day_changes_nothing(
    airflow_db, demo_erp, agency, files_base, dispatch_dag, tmp_path
):
    assert run(dispatch_dag).state == "success"
    before_remote = remote_files(tmp_path / "sftp")
    before = {
        t: frame(demo_erp, f"SELECT * FROM {t} ORDER BY 1")
        for t in ("ink_file_log", "ink_case", "ink_case_event")
    }
    invoices_before = frame(demo_erp, "SELECT * FROM erp_invoice ORDER BY invoice_id")

    assert run(dispatch_dag).state == "success"
    assert remote_files(tmp_path / "sftp") == before_remote
    for table, rows in before.items():
        pd.testing.assert_frame_equal(
            frame(demo_erp, f"SELECT * FROM {table} ORDER BY 1"), rows, check_dtype=False
        )
    pd.testing.assert_frame_equal(
        frame(demo_erp, "SELECT * FROM erp_invoice ORDER BY invoice_id"), invoices_before
    )


def test_file_written_while_sftp_is_down_is_delivered_by_the_retry_as_the_same_file(
    airflow_db, demo_erp, agency, files_base, dispatch_dag, tmp_path
):
    from inkasso.db.schema import ink_agreement

    with demo_erp.begin() as conn:  # only Lowell NO in this run
        conn.execute(
            update(ink_agreement)
            .where(ink_agreement.c.agreement_id != "lowell_no")
            .values(active=False)
        )
    agency.stop()
    assert run(dispatch_dag).state == "failed"
    written = frame(demo_erp, "SELECT * FROM ink_file_log")
    assert list(written["status"]) == ["written"], "the file is kept in the outbox, cases open"
    assert Path(written["path"][0].removeprefix("file://")).exists()

    agency.start()
    assert run(dispatch_dag).state == "success"
    after = frame(demo_erp, "SELECT * FROM ink_file_log")
    assert len(after) == 1 and after["status"][0] == "delivered"
    assert after["file_name"][0] == written["file_name"][0]
    inbox = tmp_path / "sftp" / "lowell_no" / after["remote_path"][0].lstrip("/")
    assert hashlib.sha256(inbox.read_bytes()).hexdigest() == written["sha256"][0]


def test_agreement_with_nothing_to_send_sends_no_file(
    airflow_db, demo_erp, agency, files_base, dispatch_dag, tmp_path
):
    from inkasso.db.schema import erp_invoice, ink_agreement

    with demo_erp.begin() as conn:
        client = conn.execute(
            select(ink_agreement.c.client_id).where(ink_agreement.c.agreement_id == "creno")
        ).scalar()
        conn.execute(
            update(erp_invoice)
            .where(erp_invoice.c.client_id == client)
            .values(marked_for_collection=False)
        )
    assert run(dispatch_dag).state == "success"
    assert frame(demo_erp, "SELECT * FROM ink_file_log WHERE agreement_id = 'creno'").empty
    assert not [p for p in (tmp_path / "sftp" / "creno").rglob("*") if p.is_file()]
    assert not (files_base / "outbox" / "creno").exists()


def test_backfill_of_an_earlier_day_does_not_resend(
    airflow_db, demo_erp, agency, files_base, dispatch_dag
):
    """Day 2 after day 1 opens no second case for an invoice; running day 1 again sends nothing."""
    assert run(dispatch_dag, DAY).state == "success"
    cases = frame(demo_erp, "SELECT COUNT(*) AS n FROM ink_case")["n"][0]
    assert run(dispatch_dag, date(2026, 11, 3)).state == "success"
    assert run(dispatch_dag, DAY).state == "success"
    assert frame(demo_erp, "SELECT COUNT(*) AS n FROM ink_case")["n"][0] == cases
    dup = frame(demo_erp, "SELECT invoice_id FROM ink_case GROUP BY invoice_id HAVING COUNT(*) > 1")
    assert dup.empty
