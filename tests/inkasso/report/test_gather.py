"""One client's day as the mail tells it, against figures computed by hand from the database."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import insert

from inkasso.db.schema import erp_client, erp_journal_line, ink_agreement
from inkasso.report.gather import gather_client_day
from inkasso.report.render import render_report

DAY = date(2026, 11, 2)


def _client(engine, client_id=1, agreements=(("A1", "lindorff", "settlement"),)):
    with engine.begin() as conn:
        conn.execute(
            insert(erp_client).values(
                client_id=client_id,
                name="Fjord AS",
                org_no="999888777",
                country="NO",
                currency="NOK",
                min_collection_amount=0,
                default_bank_account="12345678903",
                report_recipients="finance@example.no",
            )
        )
        for agreement_id, agency, booking in agreements:
            conn.execute(
                insert(ink_agreement).values(
                    agreement_id=agreement_id,
                    client_id=client_id,
                    agency=agency,
                    country="NO",
                    customer_no_at_agency="42",
                    agency_bank_account="98765432109",
                    mode="sftp",
                    booking_mode=booking,
                    interim_account="1684",
                )
            )


def _journal(engine, day, debit, credit, ref, client_id=1):
    with engine.begin() as conn:
        conn.execute(
            insert(erp_journal_line).values(
                client_id=client_id,
                journal_date=day,
                account="1684",
                debit=debit,
                credit=credit,
                text="t",
                source_ref=ref,
            )
        )


def test_interim_balance_of_a_backfilled_day_is_that_days_balance(erp_engine):
    _client(erp_engine)
    _journal(erp_engine, DAY - timedelta(days=1), 10_000, 0, "closure:1")
    _journal(erp_engine, DAY, 0, 3_001, "payout:1")
    _journal(erp_engine, DAY + timedelta(days=3), 0, 6_999, "payout:2")  # after the day
    (section,) = gather_client_day(erp_engine, 1, DAY).agencies
    assert section.interim_balance == 10_000 - 3_001
    assert "69,99 NOK" in render_report(gather_client_day(erp_engine, 1, DAY)).text
