"""A backfilled (or re-run) day's mail tells that day, not today: later receipts, closures,
late closure files and payouts have moved the cases and payouts on since (SQLite and
PostgreSQL; the real inbound and bank flows through the money tests' world)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert, text, update

from inkasso.db.schema import erp_customer, erp_invoice, ink_case, ink_dispatch_hold
from inkasso.formats import load_layout, load_profile
from inkasso.money.check import check_books
from inkasso.report.gather import gather_client_day
from inkasso.report.render import render_report
from tests.inkasso.money.world import (
    AGREEMENT,
    CLIENT,
    CUSTOMER_NO,
    SENT,
    new_world,
    open_cases,
    receipt_rejecting,
)

D1, D2, D4, D5, D6 = (SENT + timedelta(days=n) for n in (3, 4, 6, 7, 8))
A, B, C = 1, 2, 3


@pytest.fixture
def world(erp_engine, tmp_path):
    return new_world(erp_engine, tmp_path / "files", "settlement")


def receipt_accepting(world, day, case_id: int) -> None:
    """The agency's receipt of ``day`` taking one case on (its reference ``L<case_id>``)."""
    spec = load_profile("lowell").files["receipt"]
    world.files += 1
    name = spec.file_name(CUSTOMER_NO, datetime(day.year, day.month, day.day, 4, world.files))
    frame = pd.DataFrame(
        [{"case_id": case_id, "agency_case_ref": f"L{case_id}", "receipt_status": "A",
          "reason_code": "", "reason_text": ""}]
    )  # fmt: skip
    data = load_layout(spec.layout).write({"customer_no": CUSTOMER_NO, "file_date": day}, frame)
    world.receive(day, "receipt", name, data)


def section_of(world, day):
    report = gather_client_day(world.engine, CLIENT, day)
    (section,) = report.agencies
    return report, section


def test_receipts_closures_and_cases_ended_unpaid_of_a_backfilled_day_are_that_days(world):
    """On D1 the agency takes case C on, closes A as partly paid (300.00 of 1 000.00) and B as
    uncollectible (1 000.00 still owed). On D5 it rejects C, closes A as paid and says it
    collected 200.00 on B after closing it. The mail of D1, sent again after D5, still says
    what D1 said: C accepted, A partly paid, B ended unpaid with 1 000.00 owed."""
    open_cases(world.engine, {A: 100_000, B: 100_000, C: 50_000})
    with world.engine.begin() as conn:  # C waits for its receipt
        conn.execute(
            update(ink_case)
            .where(ink_case.c.case_id == C)
            .values(status="sent", agency_case_ref=None)
        )
    receipt_accepting(world, D1, C)
    world.closure(
        D1,
        [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000},
         {"case_id": B, "status": "uncollectible", "collected": 0, "remaining": 100_000}],
    )  # fmt: skip
    _, before = section_of(world, D1)  # the day's own run

    receipt_rejecting(world, D5, C)
    world.closure(
        D5,
        [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0},
         {"case_id": B, "status": "uncollectible", "collected": 20_000, "remaining": 80_000}],
    )  # fmt: skip

    report, backfill = section_of(world, D1)
    assert (backfill.receipts_accepted.n, backfill.receipts_accepted.amount) == (1, 50_000)
    assert backfill.receipts_rejected == []
    assert [(c["status"], c["n"], c["sent"], c["collected"], c["remaining"])
            for c in backfill.closures] == [
        ("partly_paid", 1, 100_000, 30_000, 70_000),
        ("uncollectible", 1, 100_000, 0, 100_000),
    ]  # fmt: skip
    assert [(x["case_id"], x["status"], x["remaining_amount"]) for x in backfill.ended_unpaid] == [
        (B, "uncollectible", 100_000)
    ]
    for field in ("receipts_accepted", "receipts_rejected", "closures", "ended_unpaid"):
        assert getattr(backfill, field) == getattr(before, field), field
    text_body = render_report(report).text
    assert "case(s) rejected" not in text_body and "  - paid: 1 case(s)" not in text_body

    _, later = section_of(world, D5)  # D5's own mail tells D5
    assert later.receipts_accepted.n == 0
    assert [(r["n"], r["amount"]) for r in later.receipts_rejected] == [(1, 50_000)]
    assert [(c["status"], c["collected"], c["remaining"]) for c in later.closures] == [
        ("collected_after_closure", 20_000, 80_000),
        ("paid", 100_000, 0),
    ]
    assert [(x["case_id"], x["remaining_amount"]) for x in later.ended_unpaid] == [(B, 80_000)]


def test_payouts_and_payouts_overdue_of_a_backfilled_day_are_as_that_days_files_left_them(world):
    """The agency collects 300.00 on D1 and pays it out on D2, in a bank file read on D5; on D6
    a late closure file dated D1 adds 200.00 collected, so the payout now differs. The mail of
    D4 said the payout was overdue, the mail of D5 that it matched: sent again today they say
    the same, not today's verdict."""
    open_cases(world.engine, {A: 100_000, B: 100_000})
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    world.bank_file(
        D5, [{"reference": "91240", "amount": 30_000, "paid_on": D2, "from_agency": True}]
    )
    world.closure(
        D6,
        [{"case_id": B, "status": "partly_paid", "collected": 20_000, "remaining": 80_000}],
        dated=D1,
    )
    check_books(world.engine, D6)  # the bank import's reconciliation, as of today
    assert world.scalar("SELECT reconciliation FROM ink_payout") == "differs"

    report, d5 = section_of(world, D5)
    assert d5.payouts == [
        {"reconciliation": "matched", "n": 1, "amount": 30_000, "settled": 30_000}
    ]
    assert d5.payouts_open == [] and d5.payouts_awaited == []
    assert not any("not reconciled" in line for line in report.attention)

    report, d4 = section_of(world, D4)
    assert d4.payouts == []
    assert [(x["case_id"], x["from"], x["amount"]) for x in d4.payouts_awaited] == [
        (None, D1.isoformat(), 30_000)
    ]
    assert any("payouts overdue" in line for line in report.attention)


def test_held_back_amounts_of_a_backfilled_day_are_that_days(erp_engine):
    """A hold keeps the invoice's amount of the day it was held: paid down since, the mail of
    that day still shows the day's amount. A hold recorded before amounts were kept shows the
    invoice's amount now, and a later mail says so with the time it read it."""
    from tests.inkasso.report.test_gather import DAY, _client

    _client(erp_engine)
    with erp_engine.begin() as conn:
        conn.execute(
            insert(erp_customer).values(
                customer_id=1, client_id=1, customer_no="C1", name="Ola", is_organisation=False,
                national_id="01019012345", country="NO",
            )
        )  # fmt: skip
        for invoice_id, now_left, reason, held in [
            (1, 50, "below_minimum", {"amount": 99, "currency": "NOK"}),  # paid down since
            (2, 7_00, "disputed", {}),  # held before amounts were kept
        ]:
            conn.execute(
                insert(erp_invoice).values(
                    invoice_id=invoice_id, client_id=1, customer_id=1,
                    invoice_no=f"F-{invoice_id}", invoice_date=DAY - timedelta(days=60),
                    due_date=DAY - timedelta(days=30), currency="NOK", original_amount=99,
                    remaining_amount=now_left, kid=str(invoice_id), status="open",
                )
            )  # fmt: skip
            conn.execute(
                insert(ink_dispatch_hold).values(
                    agreement_id="A1", business_date=DAY, invoice_id=invoice_id, customer_id=1,
                    reason=reason, **held,
                )
            )  # fmt: skip
    now = datetime(2026, 11, 10, 8, 30, tzinfo=UTC)
    report = gather_client_day(erp_engine, 1, DAY, as_of=now)
    (section,) = report.agencies
    assert [(h["reason"], h["amount"], h["amount_now"]) for h in section.holds] == [
        ("below_minimum", 99, False),
        ("disputed", 7_00, True),
    ]
    backfill = render_report(report)
    assert "  - below_minimum: 1  0,99 NOK" in backfill.text and "0,50 NOK" not in backfill.text
    note = "amounts as of 2026-11-10 08:30 UTC"
    assert note in backfill.text and note in backfill.html
    same_day = render_report(gather_client_day(erp_engine, 1, DAY, as_of=now.replace(day=2)))
    assert "amounts as of" not in same_day.text
    for body in (backfill.text, backfill.html, same_day.text):
        assert "01019012345" not in body


def test_no_later_figures_leak_into_the_text_of_a_backfilled_day(world):
    """The whole text of D1's mail is the same before and after D5's files (bar nothing)."""
    open_cases(world.engine, {A: 100_000})
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    first = render_report(gather_client_day(world.engine, CLIENT, D1))
    world.closure(D5, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    with world.engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM ink_case")).scalar() == "paid"
    again = render_report(gather_client_day(world.engine, CLIENT, D1))
    assert again.text == first.text and again.html == first.html
    assert AGREEMENT in again.text
