"""Corrections: direct payments, credit notes and recalls on cases at the agency, reported once,
in one file per agreement that reads back to exactly them (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import count

import pandas as pd
import pytest
from sqlalchemy import insert, select, text, update

from tests.db_helpers import query_frame as rows

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)  # dispatch time: cases opened
LATER = datetime(2026, 11, 3, 3, 30, tzinfo=UTC)  # corrections run (04:30 Oslo)
_refs = count(1)


@pytest.fixture
def base(tmp_path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{tmp_path / 'files'}")


@pytest.fixture
def erp(erp_engine, base):
    """A small demo ERP whose Lowell NO and Intrum agreements have open cases (real dispatch)."""
    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=300, start_day=DAY)
    for agreement_id in ("lowell_no", "intrum"):
        (agreement,) = load_agreements(erp_engine, agreement_id=agreement_id)
        res = prepare_new_cases(erp_engine, agreement, DAY, NOW + timedelta(hours=1), base, now=NOW)
        assert res["status"] == "written"
    return erp_engine


def agreement(engine, agreement_id):
    from inkasso.agreements import load_agreements

    (found,) = load_agreements(engine, agreement_id=agreement_id)
    return found


def open_cases(engine, agreement_id, n):
    """``n`` open cases of the agreement with their invoice and client."""
    return rows(
        engine,
        "SELECT k.case_id, k.invoice_id, i.invoice_no, i.client_id, k.agency_case_ref "
        "FROM ink_case k JOIN erp_invoice i ON i.invoice_id = k.invoice_id "
        "WHERE k.agreement_id = :a ORDER BY k.case_id",
        a=agreement_id,
    ).head(n)


def pay(engine, case, amount, *, kind="direct", day=DAY, booked=LATER - timedelta(hours=1)):
    """Book one payment on the case's invoice, as the bank import does; returns its id."""
    from inkasso.db.schema import erp_payment

    with engine.begin() as conn:
        return conn.execute(
            insert(erp_payment).values(
                client_id=int(case.client_id),
                invoice_id=int(case.invoice_id),
                bank_file="OCR.20261102.txt",
                payment_ref=f"ref-{next(_refs)}",
                amount=amount,
                payment_date=day,
                kind=kind,
                booked_at=booked,
            )
        ).inserted_primary_key[0]


def adjust(engine, case, kind, amount, *, day=DAY):
    """Record a credit note or recall on the case's invoice; returns its id."""
    from inkasso.db.schema import erp_invoice_adjustment

    with engine.begin() as conn:
        return conn.execute(
            insert(erp_invoice_adjustment).values(
                invoice_id=int(case.invoice_id), kind=kind, amount=amount, adjustment_date=day
            )
        ).inserted_primary_key[0]


def read_file(engine, file_row):
    from airflow.sdk import ObjectStoragePath

    from inkasso.formats import load_layout, load_profile

    agency = rows(
        engine,
        "SELECT agency FROM ink_agreement WHERE agreement_id = :a",
        a=file_row["agreement_id"],
    )["agency"][0]
    layout = load_layout(load_profile(agency).file("corrections").layout)
    return layout.read(ObjectStoragePath(file_row["path"]).read_bytes(), file_row["file_name"])


def prepare(engine, agreement_id, base, day=DAY, now=LATER):
    from inkasso.corrections import prepare_corrections

    return prepare_corrections(engine, agreement(engine, agreement_id), day, base, now=now)


def test_payment_credit_note_and_recall_go_into_one_file_that_reads_back_to_them(erp, base):
    c1, c2, c3 = open_cases(erp, "lowell_no", 3).itertuples()
    with erp.begin() as conn:
        conn.execute(
            text("UPDATE ink_case SET agency_case_ref = 'L-777' WHERE case_id = :c"),
            {"c": int(c1.case_id)},
        )
    pay(erp, c1, 12_550)
    adjust(erp, c2, "credit_note", -40_000)  # the ERP's sign does not matter: a reduction
    adjust(erp, c3, "recall", 99_900, day=DAY + timedelta(days=1))

    result = prepare(erp, "lowell_no", base, day=DAY + timedelta(days=1))

    assert result["status"] == "written" and result["corrections"] == 3
    assert result["amount"] == 12_550 + 40_000 + 99_900
    customer_no = agreement(erp, "lowell_no").customer_no_at_agency
    assert result["file_name"] == f"RD{customer_no}20261103043000.txt"
    (logged,) = rows(erp, "SELECT * FROM ink_file_log WHERE kind = 'corrections'").to_dict(
        "records"
    )
    assert logged["status"] == "written" and logged["direction"] == "out"
    assert logged["record_count"] == 3 and logged["amount_total"] == result["amount"]
    parsed = read_file(erp, logged)
    assert parsed.header["customer_no"] == customer_no
    assert parsed.trailer == {"record_count": 3, "amount_total": 152_450}
    details = parsed.details()[
        ["case_id", "agency_case_ref", "invoice_no", "correction_type", "amount", "correction_date"]
    ]
    assert details.to_dict("records") == [
        {"case_id": c1.case_id, "agency_case_ref": "L-777", "invoice_no": c1.invoice_no,
         "correction_type": "DP", "amount": 12_550, "correction_date": DAY},
        {"case_id": c2.case_id, "agency_case_ref": "", "invoice_no": c2.invoice_no,
         "correction_type": "CN", "amount": 40_000, "correction_date": DAY},
        {"case_id": c3.case_id, "agency_case_ref": "", "invoice_no": c3.invoice_no,
         "correction_type": "RC", "amount": 99_900, "correction_date": DAY + timedelta(days=1)},
    ]  # fmt: skip

    corrections = rows(erp, "SELECT * FROM ink_correction ORDER BY correction_id")
    assert list(corrections["file_id"]) == [logged["file_id"]] * 3
    events = rows(
        erp,
        "SELECT case_id, kind, detail, file_id FROM ink_case_event WHERE file_id = :f ORDER BY case_id",
        f=logged["file_id"],
    )
    assert list(events["kind"]) == ["direct_payment", "credit_note", "recall"]
    assert all(logged["file_name"] in d for d in events["detail"])
    assert "recall from collection" in events["detail"][2]
    # a recall closes nothing by itself: the agency's closure does
    assert (
        rows(erp, "SELECT is_open FROM ink_case WHERE case_id = :c", c=int(c3.case_id))["is_open"]
        .astype(bool)
        .all()
    )


def test_rerun_reports_nothing_twice_and_a_later_event_goes_alone(erp, base):
    c1, c2 = open_cases(erp, "lowell_no", 2).itertuples()
    pay(erp, c1, 5_000)
    assert prepare(erp, "lowell_no", base)["status"] == "written"
    before = rows(erp, "SELECT * FROM ink_file_log ORDER BY 1")

    again = prepare(erp, "lowell_no", base, now=LATER + timedelta(hours=2))
    assert again["status"] == "nothing_to_report"
    pd.testing.assert_frame_equal(rows(erp, "SELECT * FROM ink_file_log ORDER BY 1"), before)

    adjust(erp, c2, "credit_note", 7_000)
    later = prepare(erp, "lowell_no", base, now=LATER + timedelta(hours=3))
    assert later["corrections"] == 1 and later["types"] == {"CN": 1}
    assert rows(erp, "SELECT COUNT(*) AS n FROM ink_correction")["n"][0] == 2


def test_only_direct_payments_and_adjustments_on_open_cases_within_the_day_are_reported(erp, base):
    from inkasso.db.schema import ink_case

    c1, c2, c3, c4 = open_cases(erp, "lowell_no", 4).itertuples()
    reported = {pay(erp, c1, 1_000), pay(erp, c1, -1_000)}  # a payment and its reversal
    pay(erp, c1, 8_000, kind="agency_payout")  # the agency's own payout is no direct payment
    pay(erp, c2, 3_000, booked=NOW - timedelta(hours=1))  # booked before the case went out
    pay(erp, c2, 4_000, day=DAY + timedelta(days=2))  # after the run's day
    adjust(erp, c3, "credit_note", 2_000, day=DAY - timedelta(days=1))  # before the case
    adjust(erp, c3, "write_off", 2_000)  # not a kind the agency is told about
    with erp.begin() as conn:  # a closed case is the agency's no longer
        conn.execute(
            update(ink_case).where(ink_case.c.case_id == int(c4.case_id)).values(is_open=False)
        )
    pay(erp, c4, 6_000)
    no_case = rows(erp, "SELECT invoice_id, client_id FROM erp_invoice WHERE status = 'open'").head(
        1
    )
    pay(erp, next(no_case.itertuples()), 9_000)

    result = prepare(erp, "lowell_no", base)
    assert result["corrections"] == 2 and result["amount"] == 0
    got = rows(erp, "SELECT source, source_id, amount FROM ink_correction ORDER BY amount")
    assert set(got["source_id"]) == reported and set(got["source"]) == {"payment"}
    assert list(got["amount"]) == [-1_000, 1_000]


def test_manual_agreement_gets_its_agency_layout_and_other_agreements_stay_apart(erp, base):
    (c,) = open_cases(erp, "intrum", 1).itertuples()
    (l1,) = open_cases(erp, "lowell_no", 1).itertuples()
    pay(erp, c, 123_456)
    pay(erp, l1, 1_111)

    result = prepare(erp, "intrum", base)
    assert result["file_name"].startswith("intrum_korrigeringar_") and result["corrections"] == 1
    (logged,) = rows(erp, "SELECT * FROM ink_file_log WHERE kind = 'corrections'").to_dict(
        "records"
    )
    assert logged["agreement_id"] == "intrum"
    text_ = base.joinpath("outbox", "intrum", result["file_name"]).read_text()
    assert "1234.56" in text_
    assert read_file(erp, logged).details()["amount"].tolist() == [123_456]
    left = rows(erp, "SELECT agreement_id FROM ink_correction")
    assert list(left["agreement_id"]) == ["intrum"], "Lowell's payment waits for Lowell's run"


def test_failure_while_writing_rolls_everything_back_and_the_next_run_reports_it(
    erp, base, tmp_path
):
    (c1,) = open_cases(erp, "lowell_no", 1).itertuples()
    pay(erp, c1, 2_500)
    blocked = base / "blocked"
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the outbox folder should be")
    with pytest.raises(OSError):
        prepare(erp, "lowell_no", blocked)
    for table in (
        "ink_correction",
        "ink_case_event WHERE file_id IS NOT NULL AND kind = 'direct_payment'",
    ):
        assert rows(erp, f"SELECT COUNT(*) AS n FROM {table}")["n"][0] == 0
    assert (
        rows(erp, "SELECT COUNT(*) AS n FROM ink_file_log WHERE kind = 'corrections'")["n"][0] == 0
    )

    assert prepare(erp, "lowell_no", base)["corrections"] == 1


def test_two_runs_in_the_same_second_get_two_names(erp, base):
    c1, c2 = open_cases(erp, "lowell_no", 2).itertuples()
    pay(erp, c1, 100)
    first = prepare(erp, "lowell_no", base)
    pay(erp, c2, 200)
    second = prepare(erp, "lowell_no", base)
    assert first["file_name"] != second["file_name"]
    assert second["file_name"].endswith("043001.txt")
    assert base.joinpath("outbox", "lowell_no", first["file_name"]).exists()


def test_nothing_to_report_writes_no_file(erp, base):
    result = prepare(erp, "lowell_no", base)
    assert result == {
        "agreement_id": "lowell_no",
        "business_date": DAY.isoformat(),
        "corrections": 0,
        "amount": 0,
        "after_closure": 0,
        "held": [],
        "status": "nothing_to_report",
    }
    assert not base.joinpath("outbox", "lowell_no").exists() or not [
        p for p in base.joinpath("outbox", "lowell_no").iterdir() if p.name.startswith("RD")
    ]
    with erp.connect() as conn:
        from inkasso.db.schema import ink_file_log

        assert (
            conn.execute(select(ink_file_log).where(ink_file_log.c.kind == "corrections")).first()
            is None
        )
