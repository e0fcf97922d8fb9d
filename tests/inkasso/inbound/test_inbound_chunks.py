"""A closure file applied chunk by chunk (SQLite and PostgreSQL): every chunk is staged, then the
file is written set-based once, in one transaction, with the same outcome as one frame: cases,
events in the file's order, collections, and the settlement booked on the invoices."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import update

from inkasso.db.schema import ink_agreement
from inkasso.formats import load_profile
from inkasso.inbound.apply import apply_closure
from inkasso.inbound.validate import check_details, parse_file, read_cases
from tests.inkasso.inbound.test_inbound_apply import (  # noqa: F401  (fixtures)
    AMOUNT,
    DAY,
    LOWELL,
    NOW,
    build,
    closure,
    db,
    rows,
)

SETTLING = replace(LOWELL, booking_mode="settlement")


def _checked(engine, records):
    """The closure file's records, parsed and checked against the cases, as one frame."""
    profile = load_profile(SETTLING.agency)
    name, data = build(SETTLING, "closure", records)
    parsed = parse_file(profile, "closure", data, name, DAY)
    with engine.connect() as conn:
        cases = read_cases(conn, SETTLING.agreement_id, parsed.details["case_id"])
    issues, merged = check_details(parsed, cases, SETTLING, profile, DAY)
    assert not issues
    return name, merged


@pytest.mark.parametrize("chunk", [1, 2, 3])
def test_a_closure_file_applied_in_chunks_books_every_record_once(db, chunk):  # noqa: F811
    with db.begin() as conn:
        conn.execute(update(ink_agreement).values(booking_mode="settlement"))
    name, merged = _checked(db, [
        closure(103, "uncollectible", collected=0, remaining=AMOUNT),
        closure(101, "paid"),
        closure(102, "partly_paid", collected=30_000, remaining=70_000),
    ])  # fmt: skip
    chunks = (merged.iloc[i : i + chunk] for i in range(0, len(merged), chunk))
    with db.begin() as conn:
        out = apply_closure(conn, chunks, SETTLING, 1, name, NOW)

    assert out["closures"] == {"paid": 1, "partly_paid": 1, "uncollectible": 1}
    assert (out["collected"], out["settled"], out["left_unpaid"]) == (130_000, 130_000, 1)
    events = rows(db, "SELECT case_id, kind FROM ink_case_event ORDER BY event_id")
    assert events.to_dict("records") == [
        {"case_id": 103, "kind": "uncollectible"},
        {"case_id": 101, "kind": "paid"},
        {"case_id": 102, "kind": "partly_paid"},
    ]
    invoices = rows(db, "SELECT invoice_id, remaining_amount, status FROM erp_invoice "
                        "WHERE client_id = 1 ORDER BY invoice_id")  # fmt: skip
    assert invoices.to_dict("records") == [
        {"invoice_id": 101, "remaining_amount": 0, "status": "paid"},
        {"invoice_id": 102, "remaining_amount": 70_000, "status": "at_collection"},
        {"invoice_id": 103, "remaining_amount": AMOUNT, "status": "collection_ended"},
    ]
    collections = rows(db, "SELECT case_id, amount, booked_amount FROM ink_collection "
                           "ORDER BY collection_id")  # fmt: skip
    assert collections.to_dict("records") == [
        {"case_id": 101, "amount": AMOUNT, "booked_amount": AMOUNT},
        {"case_id": 102, "amount": 30_000, "booked_amount": 30_000},
    ]
    ledger = rows(db, "SELECT source_ref, account, debit, credit FROM erp_journal_line "
                      "ORDER BY line_id")  # fmt: skip
    assert ledger.to_dict("records") == [
        {"source_ref": "closure:1:101", "account": "1684", "debit": AMOUNT, "credit": 0},
        {"source_ref": "closure:1:101", "account": "1500", "debit": 0, "credit": AMOUNT},
        {"source_ref": "closure:1:102", "account": "1684", "debit": 30_000, "credit": 0},
        {"source_ref": "closure:1:102", "account": "1500", "debit": 0, "credit": 30_000},
    ]
    paid = rows(db, "SELECT payment_ref, amount, kind FROM erp_payment ORDER BY payment_id")
    assert paid.to_dict("records") == [
        {"payment_ref": "case:101", "amount": AMOUNT, "kind": "agency_settlement"},
        {"payment_ref": "case:102", "amount": 30_000, "kind": "agency_settlement"},
    ]
    open_cases = rows(db, "SELECT case_id FROM ink_case WHERE is_open AND agreement_id = :a "
                          "ORDER BY case_id", a=SETTLING.agreement_id)  # fmt: skip
    assert list(open_cases["case_id"]) == [102]
