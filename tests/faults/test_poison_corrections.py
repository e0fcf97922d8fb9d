"""A poison record in the corrections (SQLite and PostgreSQL): an invoice number the ERP changed,
after the case was sent, to something the agency's layout cannot carry. That correction is held
back with its case and field (masked), the agreement's other corrections are reported; once
the ERP is fixed, the next run reports it, once."""

from __future__ import annotations

from sqlalchemy import text

from tests.db_helpers import query_frame as rows
from tests.inkasso.corrections.test_corrections import (  # noqa: F401  (fixtures)
    base,
    erp,
    open_cases,
    pay,
    prepare,
    read_file,
)


def set_invoice_no(engine, case, invoice_no):
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE erp_invoice SET invoice_no = :n WHERE invoice_id = :i"),
            {"n": invoice_no, "i": int(case.invoice_id)},
        )


def test_an_unwritable_correction_is_held_and_the_others_are_reported(erp, base):  # noqa: F811
    poison, good = open_cases(erp, "lowell_no", 2).itertuples()
    set_invoice_no(erp, poison, "F€ 19121212-1212")  # '€' is not in ISO-8859-1; an id too
    pay(erp, poison, 5_000)
    pay(erp, good, 7_000)

    result = prepare(erp, "lowell_no", base)

    assert result["status"] == "written" and result["corrections"] == 1
    (logged,) = rows(erp, "SELECT * FROM ink_file_log WHERE kind = 'corrections'").to_dict(
        "records"
    )
    assert read_file(erp, logged).details()["case_id"].tolist() == [good.case_id]
    (held,) = result["held"]
    assert held["case_id"] == poison.case_id and held["field"] == "invoice_no"
    assert "€" in held["reason"] and "19121212-1212" not in str(held)

    set_invoice_no(erp, poison, "F-1")
    again = prepare(erp, "lowell_no", base)

    assert again["status"] == "written" and again["corrections"] == 1 and again["held"] == []
    reported = rows(erp, "SELECT case_id FROM ink_correction WHERE file_id IS NOT NULL")
    assert sorted(reported["case_id"]) == sorted([poison.case_id, good.case_id])
    assert prepare(erp, "lowell_no", base)["status"] == "nothing_to_report"
