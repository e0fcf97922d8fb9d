"""The view's Held back page tells each day's holds with the amounts they were held with (as
that day's mail does), per currency; only holds recorded before 0013 use the invoice's now."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import insert

from inkasso.db.schema import (
    erp_client,
    erp_customer,
    erp_invoice,
    ink_agreement,
    ink_dispatch_hold,
)
from inkasso.report.gather import gather_client_day
from inkasso.ui.queries import holds_summary, list_holds

DAY = date(2026, 11, 2)


def _world(engine):
    """Client 1 (NOK), agreement A1, three invoices held on DAY (amounts now: 100.00 NOK,
    30.00 EUR, 70.00 NOK) and the first held again the next day with what is left of it."""
    with engine.begin() as conn:
        conn.execute(
            insert(erp_client).values(
                client_id=1,
                name="Fjord AS",
                org_no="999888777",
                country="NO",
                currency="NOK",
                min_collection_amount=0,
                default_bank_account="12345678903",
                report_recipients="finance@example.no",
            )
        )
        conn.execute(
            insert(ink_agreement).values(
                agreement_id="A1",
                client_id=1,
                agency="lindorff",
                country="NO",
                customer_no_at_agency="42",
                agency_bank_account="98765432109",
                mode="sftp",
                booking_mode="bank",
                interim_account="1684",
            )
        )
        conn.execute(
            insert(erp_customer).values(
                customer_id=1,
                client_id=1,
                customer_no="C1",
                name="Ola",
                is_organisation=False,
                national_id="01017012345",
                country="NO",
            )
        )
        for invoice_id, currency, now in ((1, "NOK", 10_000), (2, "EUR", 3_000), (3, "NOK", 7_000)):
            conn.execute(
                insert(erp_invoice).values(
                    invoice_id=invoice_id,
                    client_id=1,
                    customer_id=1,
                    invoice_no=f"F{invoice_id}",
                    invoice_date=DAY - timedelta(days=60),
                    due_date=DAY - timedelta(days=30),
                    currency=currency,
                    original_amount=30_000,
                    remaining_amount=now,
                    kid=f"{invoice_id}0",
                    status="open",
                )
            )
        # held on DAY with 250.00 NOK and 50.00 EUR (paid down since); invoice 3 by a dispatch
        # before 0013, without its amount; invoice 1 held again the next day with 100.00 NOK
        holds = [
            (DAY, 1, 25_000, "NOK"),
            (DAY, 2, 5_000, "EUR"),
            (DAY, 3, None, None),
            (DAY + timedelta(days=1), 1, 10_000, "NOK"),
        ]
        for day, invoice_id, amount, currency in holds:
            conn.execute(
                insert(ink_dispatch_hold).values(
                    agreement_id="A1",
                    business_date=day,
                    invoice_id=invoice_id,
                    customer_id=1,
                    reason="below_minimum",
                    detail="sum below the minimum",
                    amount=amount,
                    currency=currency,
                )
            )


def test_an_earlier_days_holds_have_the_amounts_they_were_held_with(erp_engine):
    _world(erp_engine)
    with erp_engine.connect() as conn:
        groups, page = list_holds(conn, client_id=1, business_date=DAY, reason=None)
        latest = holds_summary(conn, client_id=None, business_date=None)["groups"]
    # per currency, never summed across: 250.00 + 70.00 (now) NOK, and 50.00 EUR
    assert {(g["currency"], g["invoices"], g["amount"]) for g in groups} == {
        ("NOK", 2, 25_000 + 7_000),
        ("EUR", 1, 5_000),
    }
    assert [(r["invoice_no"], r["amount"], r["currency"]) for r in page.rows] == [
        ("F1", 25_000, "NOK"),
        ("F2", 5_000, "EUR"),
        ("F3", 7_000, "NOK"),
    ]
    assert [(g["business_date"], g["amount"]) for g in latest] == [
        (DAY + timedelta(days=1), 10_000)
    ]
    # only the hold recorded without its amount is the invoice's amount now
    assert {g["currency"]: g["amount_now"] for g in groups} == {"NOK": True, "EUR": False}
    assert [r["amount_now"] for r in page.rows] == [False, False, True]
    assert not latest[0]["amount_now"]


def test_the_view_and_that_days_mail_give_the_same_held_amounts(erp_engine):
    _world(erp_engine)
    (section,) = gather_client_day(erp_engine, 1, DAY).agencies
    with erp_engine.connect() as conn:
        groups = holds_summary(conn, client_id=1, business_date=DAY)["groups"]
    view = {
        (g["reason"], g["currency"], g["invoices"], g["amount"], g["amount_now"]) for g in groups
    }
    mail = {
        (h["reason"], h["currency"], h["n"], h["amount"], h["amount_now"]) for h in section.holds
    }
    assert view == mail
