"""inkasso_corrections end to end: real Airflow runs (dag.test) after a real dispatch, against the
in-process SFTP agency, on SQLite and on PostgreSQL."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, date, datetime, timedelta
from itertools import count
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import insert

from conftest import frame

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 2)  # dispatch day: cases opened
NEXT = DAY + timedelta(days=1)  # corrections day
OSLO = "Europe/Oslo"
_refs = count(1)


@pytest.fixture(scope="module")
def dags(load_dag):
    return {
        "dispatch": load_dag("inkasso_dispatch"),
        "corrections": load_dag("inkasso_corrections"),
    }


@pytest.fixture
def cases(airflow_db, demo_erp, agency, files_base, dags):
    """The day's dispatch has run: open cases at every agency."""
    import pendulum

    run = dags["dispatch"].test(logical_date=pendulum.datetime(2026, 11, 2, 5, tz=OSLO))
    assert run.state == "success"
    return frame(
        demo_erp,
        "SELECT k.case_id, k.agreement_id, k.invoice_id, i.client_id FROM ink_case k "
        "JOIN erp_invoice i ON i.invoice_id = k.invoice_id ORDER BY k.case_id",
    )


def run(dag, day=NEXT, conf=None):
    import pendulum

    return dag.test(
        logical_date=pendulum.datetime(day.year, day.month, day.day, 4, 30, tz=OSLO),
        run_conf=dict.fromkeys(dag.params, None) | (conf or {}),
    )


def manual(dag, conf):
    """A run triggered by hand ("generate the correction file now"): no logical date."""
    # every param given: dag.test keeps a param of an earlier run of the same DAG object otherwise
    return dag.test(logical_date=None, run_conf=dict.fromkeys(dag.params, None) | conf)


def remote_files(sftp_root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(sftp_root)): p.read_bytes()
        for p in sorted(sftp_root.rglob("*"))
        if p.is_file()
    }


def events_on(engine, cases: pd.DataFrame, agreement_id: str, n: int, *, first: int = 0):
    """Book a direct payment, a credit note and a recall on cases of one agreement (round robin)."""
    from inkasso.db.schema import erp_invoice_adjustment, erp_payment

    chosen = cases[cases["agreement_id"] == agreement_id].iloc[first : first + n]
    assert len(chosen) == n
    booked = datetime.now(UTC)
    payments, adjustments = [], []
    for i, c in enumerate(chosen.itertuples()):
        amount = 1_000 * (i + 1) + 37
        if i % 3 == 0:
            payments.append(
                {
                    "client_id": int(c.client_id),
                    "invoice_id": int(c.invoice_id),
                    "bank_file": "OCR.e2e.txt",
                    "payment_ref": f"e2e-{next(_refs)}",
                    "amount": amount,
                    "payment_date": NEXT,
                    "kind": "direct",
                    "booked_at": booked,
                }
            )
        else:
            kind = "credit_note" if i % 3 == 1 else "recall"
            adjustments.append(
                {
                    "invoice_id": int(c.invoice_id),
                    "kind": kind,
                    "amount": amount,
                    "adjustment_date": DAY,
                }
            )
    with engine.begin() as conn:
        if payments:
            conn.execute(insert(erp_payment), payments)
        if adjustments:
            conn.execute(insert(erp_invoice_adjustment), adjustments)


def correction_files(engine):
    return frame(
        engine,
        "SELECT f.*, a.mode, a.agency FROM ink_file_log f JOIN ink_agreement a USING (agreement_id) "
        "WHERE f.kind = 'corrections' ORDER BY f.file_id",
    )


def file_bytes(f: dict, sftp_root: Path) -> bytes:
    if f["mode"] == "sftp":
        return (sftp_root / f["agreement_id"] / f["remote_path"].lstrip("/")).read_bytes()
    return Path(f["remote_path"].removeprefix("file://")).read_bytes()


def read_back(f: dict, data: bytes) -> list[tuple]:
    from inkasso.formats import load_layout, load_profile

    layout = load_layout(load_profile(f["agency"]).file("corrections").layout)
    details = layout.read(data, f["file_name"]).details()
    return sorted(
        zip(
            details["case_id"].astype(int),
            details["correction_type"],
            details["amount"].astype(int),
            strict=True,
        )
    )


def test_a_day_sends_each_agreement_one_file_that_reads_back_to_its_corrections(
    cases, demo_erp, dags, tmp_path, capsys
):
    events_on(demo_erp, cases, "lowell_no", 5)
    events_on(demo_erp, cases, "creno", 3)
    events_on(demo_erp, cases, "intrum", 2)  # manual export

    assert run(dags["corrections"]).state == "success"

    files = correction_files(demo_erp)
    assert sorted(files["agreement_id"]) == ["creno", "intrum", "lowell_no"]
    assert dict(zip(files["agreement_id"], files["status"], strict=True)) == {
        "creno": "delivered",
        "intrum": "exported",
        "lowell_no": "delivered",
    }
    lowell = files[files["agreement_id"] == "lowell_no"].iloc[0]
    customer_no = frame(
        demo_erp, "SELECT customer_no_at_agency FROM ink_agreement WHERE agreement_id = 'lowell_no'"
    )["customer_no_at_agency"][0]
    assert re.fullmatch(f"RD{customer_no}" + r"\d{14}\.txt", lowell["file_name"])  # time written
    assert lowell["remote_path"].startswith("/Inbound/RD")
    for f in files.to_dict("records"):
        data = file_bytes(f, tmp_path / "sftp")
        assert hashlib.sha256(data).hexdigest() == f["sha256"]
        mine = frame(
            demo_erp,
            "SELECT case_id, correction_type, amount FROM ink_correction WHERE file_id = :f",
            f=f["file_id"],
        )
        assert read_back(f, data) == sorted(mine.itertuples(index=False, name=None))
        assert f["amount_total"] == int(mine["amount"].sum())
    types = frame(
        demo_erp,
        "SELECT correction_type, COUNT(*) AS n FROM ink_correction GROUP BY correction_type",
    )
    assert dict(zip(types["correction_type"], types["n"], strict=True)) == {
        "DP": 4,
        "CN": 4,
        "RC": 2,
    }
    events = frame(
        demo_erp,
        "SELECT e.kind, COUNT(*) AS n FROM ink_case_event e JOIN ink_file_log f "
        "ON f.file_id = e.file_id WHERE f.kind = 'corrections' GROUP BY e.kind",
    )
    kinds = dict(zip(events["kind"], events["n"], strict=True))
    assert kinds == {
        "direct_payment": 4,
        "credit_note": 4,
        "recall": 2,
        "delivered": 8,
        "exported": 2,
    }
    assert not [p for p in (tmp_path / "sftp").rglob("*.part")]

    from inkasso_demo.views.corrections import print_corrections_day, verify_corrections_day

    assert verify_corrections_day(demo_erp, NEXT, tmp_path / "sftp") == []
    print_corrections_day(demo_erp, NEXT)
    shown = capsys.readouterr().out
    assert "lowell_no" in shown and "recall" in shown and lowell["file_name"] in shown


def test_rerun_sends_nothing_new_and_nothing_to_report_sends_no_file(
    cases, demo_erp, dags, tmp_path
):
    events_on(demo_erp, cases, "lowell_no", 3)
    assert run(dags["corrections"]).state == "success"
    before_remote = remote_files(tmp_path / "sftp")
    before = {
        t: frame(demo_erp, f"SELECT * FROM {t} ORDER BY 1")
        for t in ("ink_file_log", "ink_correction")
    }

    assert run(dags["corrections"]).state == "success"
    assert (
        run(dags["corrections"], NEXT + timedelta(days=1)).state == "success"
    )  # next day: nothing
    assert remote_files(tmp_path / "sftp") == before_remote
    for table, rows in before.items():
        pd.testing.assert_frame_equal(frame(demo_erp, f"SELECT * FROM {table} ORDER BY 1"), rows)
    assert list(correction_files(demo_erp)["agreement_id"]) == ["lowell_no"]


def test_manual_run_for_one_agreement_sends_only_what_is_not_yet_reported(
    cases, demo_erp, dags, tmp_path
):
    events_on(demo_erp, cases, "lowell_no", 2)
    events_on(demo_erp, cases, "creno", 2)
    assert manual(dags["corrections"], {"agreement_id": "lowell_no"}).state == "success"
    first = correction_files(demo_erp)
    assert list(first["agreement_id"]) == ["lowell_no"], "creno waits for its own run"

    events_on(demo_erp, cases, "lowell_no", 1, first=2)
    assert manual(dags["corrections"], {"agreement_id": "lowell_no"}).state == "success"
    files = correction_files(demo_erp)
    assert list(files["agreement_id"]) == ["lowell_no", "lowell_no"]
    assert list(files["record_count"]) == [2, 1]
    assert files["file_name"].nunique() == 2

    assert manual(dags["corrections"], {"agency": "creno"}).state == "success"
    assert sorted(correction_files(demo_erp)["agreement_id"]) == ["creno", "lowell_no", "lowell_no"]


def test_file_written_while_sftp_is_down_is_delivered_by_the_retry_as_the_same_file(
    cases, demo_erp, dags, agency, tmp_path
):
    events_on(demo_erp, cases, "lowell_no", 3)
    agency.stop()
    assert run(dags["corrections"], conf={"agreement_id": "lowell_no"}).state == "failed"
    written = correction_files(demo_erp)
    assert list(written["status"]) == ["written"]
    assert Path(written["path"][0].removeprefix("file://")).exists()

    agency.start()
    assert run(dags["corrections"], conf={"agreement_id": "lowell_no"}).state == "success"
    after = correction_files(demo_erp)
    assert len(after) == 1 and after["status"][0] == "delivered"
    assert after["file_name"][0] == written["file_name"][0]
    inbox = tmp_path / "sftp" / "lowell_no" / after["remote_path"][0].lstrip("/")
    assert hashlib.sha256(inbox.read_bytes()).hexdigest() == written["sha256"][0]
