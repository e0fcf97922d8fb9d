"""A backfilled (or re-run) day's mail tells that day, not today: later receipts, closures,
late closure files and payouts have moved the cases and payouts on since (SQLite and
PostgreSQL; the real inbound and bank flows through the money tests' world)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from alembic import command
from sqlalchemy import insert, text, update

from inkasso.db.migrate import alembic_config, upgrade
from inkasso.db.schema import (
    erp_client,
    erp_customer,
    erp_invoice,
    ink_agreement,
    ink_case,
    ink_dispatch_hold,
    ink_file_log,
)
from inkasso.formats import load_layout, load_profile
from inkasso.money.amounts import format_money
from inkasso.money.check import check_books
from inkasso.report.gather import gather_client_day
from inkasso.report.render import render_report
from tests.inkasso.money.world import (
    AGREEMENT,
    CLIENT,
    CUSTOMER_NO,
    OPENED,
    SENT,
    kid,
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


NOK_CLIENT, NOK_AGREEMENT, NOK_CUSTOMER_NO = 5, "lowell_no", "55083"


def nok_world(world, cases: dict[int, int]):
    """A second client, in NOK, with its own Lowell agreement (settlement) and one registered
    case per invoice (id -> sent øre): the world of that agreement."""
    with world.engine.begin() as conn:
        conn.execute(
            insert(erp_client).values(
                client_id=NOK_CLIENT, name="Fjordkraft AS", org_no="999888777", country="NO",
                currency="NOK", min_collection_amount=5000, default_bank_account="12345678903",
            )
        )  # fmt: skip
        conn.execute(
            insert(ink_agreement).values(
                agreement_id=NOK_AGREEMENT, client_id=NOK_CLIENT, agency="lowell", country="NO",
                customer_no_at_agency=NOK_CUSTOMER_NO, agency_bank_account="98765432109",
                mode="sftp", sftp_conn_id="c_lowell", booking_mode="settlement",
            )
        )  # fmt: skip
        conn.execute(
            insert(erp_customer).values(
                customer_id=2, client_id=NOK_CLIENT, customer_no="2", name="Ola",
                is_organisation=False, national_id="y", country="NO",
            )
        )  # fmt: skip
        file_id = conn.execute(
            insert(ink_file_log).values(
                client_id=NOK_CLIENT, agreement_id=NOK_AGREEMENT, direction="out",
                kind="new_cases", file_name="LN1", business_date=SENT, status="delivered",
                path="x", sha256="y", size_bytes=1, record_count=len(cases),
                amount_total=sum(cases.values()), created_at=OPENED,
            )
        ).inserted_primary_key[0]  # fmt: skip
        for invoice_id, sent in cases.items():
            conn.execute(
                insert(erp_invoice).values(
                    invoice_id=invoice_id, client_id=NOK_CLIENT, customer_id=2,
                    invoice_no=str(20_000_000 + invoice_id), invoice_date=SENT - timedelta(60),
                    due_date=SENT - timedelta(30), currency="NOK", original_amount=sent,
                    remaining_amount=sent, kid=kid(invoice_id), status="at_collection",
                )
            )  # fmt: skip
            conn.execute(
                insert(ink_case).values(
                    case_id=invoice_id, agreement_id=NOK_AGREEMENT, invoice_id=invoice_id,
                    customer_id=2, file_id=file_id, status="registered",
                    agency_case_ref=f"L{invoice_id}", original_amount=sent, sent_amount=sent,
                    currency="NOK", business_date=SENT, opened_at=OPENED,
                )
            )  # fmt: skip
    return dataclasses.replace(
        world, agreement_id=NOK_AGREEMENT, customer_no=NOK_CUSTOMER_NO, client_id=NOK_CLIENT
    )


X, Y = 11, 12  # the NOK client's cases
AFTER = "collected_after_closure"


def two_clients_two_days(world):
    """SEK: A partly paid on D1 (300.00 of 1 000.00), paid on D5; B uncollectible on D5 with
    50.00 collected. NOK: X partly paid on D1 (123.45 of 500.00); X and Y paid on D5. Returns
    the NOK world."""
    open_cases(world.engine, {A: 100_000, B: 80_000})
    nok = nok_world(world, {X: 50_000, Y: 40_000})
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    nok.closure(
        D1, [{"case_id": X, "status": "partly_paid", "collected": 12_345, "remaining": 37_655}]
    )
    world.closure(
        D5,
        [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0},
         {"case_id": B, "status": "uncollectible", "collected": 5_000, "remaining": 75_000}],
    )  # fmt: skip
    nok.closure(
        D5,
        [{"case_id": X, "status": "paid", "collected": 50_000, "remaining": 0},
         {"case_id": Y, "status": "paid", "collected": 40_000, "remaining": 0}],
    )  # fmt: skip
    return nok


def closures_of(engine, client_id, day):
    """The closures section of the client's mail of ``day``, as (status, n, sent, collected,
    remaining) tuples, and the mail's text."""
    report = gather_client_day(engine, client_id, day)
    (section,) = report.agencies
    rows = [(c["status"], c["n"], c["sent"], c["collected"], c["remaining"])
            for c in section.closures]  # fmt: skip
    return rows, render_report(report).text


EXPECTED = {
    (CLIENT, D1): [("partly_paid", 1, 100_000, 30_000, 70_000)],
    (CLIENT, D5): [("paid", 1, 100_000, 100_000, 0), ("uncollectible", 1, 80_000, 5_000, 75_000)],
    (NOK_CLIENT, D1): [("partly_paid", 1, 50_000, 12_345, 37_655)],
    (NOK_CLIENT, D5): [("paid", 2, 90_000, 90_000, 0)],
}


def test_closure_amounts_of_backfilled_days_are_the_events_integers_not_their_text(world):
    """Two clients, one in SEK and one in NOK, each with closures on D1 and D5. The closure
    events keep the totals each record gave its case in integer columns; with every event's
    text gone, each client's mail of D1 and D5, built again, still gives each day's amounts,
    each in its client's currency, never one client's money in the other's mail."""
    two_clients_two_days(world)
    with world.engine.connect() as conn:
        events = conn.execute(
            text(
                "SELECT case_id, kind, collected_amount, remaining_amount FROM ink_case_event"
                " WHERE collected_amount IS NOT NULL ORDER BY event_id"
            )
        ).all()
    assert [tuple(e) for e in events] == [
        (A, "partly_paid", 30_000, 70_000),
        (X, "partly_paid", 12_345, 37_655),
        (A, "paid", 100_000, 0),
        (B, "uncollectible", 5_000, 75_000),
        (X, "paid", 50_000, 0),
        (Y, "paid", 40_000, 0),
    ]
    with world.engine.begin() as conn:
        conn.execute(text("UPDATE ink_case_event SET detail = NULL"))
    for (client_id, day), expected in EXPECTED.items():
        rows, body = closures_of(world.engine, client_id, day)
        assert rows == expected, (client_id, day)
        currency, other = ("SEK", "NOK") if client_id == CLIENT else ("NOK", "SEK")
        for status, n, sent, collected, remaining in expected:
            line = (
                f"  - {status}: {n} case(s), sent {format_money(sent, currency)},"
                f" collected {format_money(collected, currency)},"
                f" remaining {format_money(remaining, currency)}"
            )
            assert line in body, (client_id, day, line)
        assert other not in body, (client_id, day)


def test_closure_amounts_recorded_before_0014_are_read_from_their_text_by_the_migration(world):
    """Events written before their amounts had columns: going back to 0013 and up again fills
    the columns from each closure event's text, and every day's mail of both clients is the
    same as before, word for word."""
    two_clients_two_days(world)
    # more collected on B after it ended: an event of kind collected_after_closure
    world.closure(
        D6, [{"case_id": B, "status": "uncollectible", "collected": 9_000, "remaining": 71_000}]
    )
    days = [(c, d) for c in (CLIENT, NOK_CLIENT) for d in (D1, D5, D6)]
    before = {key: closures_of(world.engine, *key) for key in days}
    sql = "SELECT event_id, kind, collected_amount, remaining_amount FROM ink_case_event"
    with world.engine.connect() as conn:
        columns = [tuple(r) for r in conn.execute(text(f"{sql} ORDER BY event_id"))]
    assert (AFTER, 9_000, 71_000) in [r[1:] for r in columns]
    command.downgrade(alembic_config(world.engine), "0013_bank_notices")
    upgrade(world.engine)
    with world.engine.connect() as conn:
        assert [tuple(r) for r in conn.execute(text(f"{sql} ORDER BY event_id"))] == columns
    for key in days:
        assert closures_of(world.engine, *key) == before[key], key
    assert before[(CLIENT, D1)][0] == EXPECTED[(CLIENT, D1)]
    assert before[(CLIENT, D6)][0] == [("collected_after_closure", 1, 80_000, 9_000, 71_000)]
