"""One client's day as the mail tells it, against figures computed by hand from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from inkasso.db.schema import (
    erp_client,
    erp_journal_line,
    ink_agreement,
    ink_file_issue,
    ink_file_log,
)
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


def _file(engine, name, kind, status, *, agreement_id="A1", direction="in", day=DAY, issues=()):
    """Log a file of the client and its issues ``(line, field, reason)``; returns its id."""
    with engine.begin() as conn:
        file_id = conn.execute(
            insert(ink_file_log).values(
                client_id=1,
                agreement_id=agreement_id,
                direction=direction,
                kind=kind,
                file_name=name,
                business_date=day,
                status=status,
                path=f"/archive/{name}",
                sha256=name.ljust(64, "0")[:64],
                size_bytes=10,
                record_count=0,
                amount_total=0,
                created_at=datetime(2026, 11, 2, 5, tzinfo=UTC),
            )
        ).inserted_primary_key[0]
        for line, field, reason in issues:
            conn.execute(
                insert(ink_file_issue).values(
                    file_id=file_id, line=line, field=field, reason=reason
                )
            )
    return file_id


def test_a_flagged_agency_file_is_named_with_its_reason_and_needs_a_person(erp_engine):
    """A changed file under a name already applied is logged ``flagged`` and never applied:
    the mail must name it, not look like a quiet day."""
    _client(erp_engine)
    reason = "KVITT_1.csv was already applied with other contents; ask the agency what changed"
    _file(erp_engine, "KVITT_1.csv", "receipt", "flagged", issues=[(None, None, reason)])
    report = gather_client_day(erp_engine, 1, DAY)
    rendered = render_report(report)
    assert report.attention, "a flagged file needs a person"
    assert "to look at" in rendered.subject
    for body in (rendered.text, rendered.html):
        assert "KVITT_1.csv" in body
        assert "ask the agency what changed" in body
        assert "Nothing happened and nothing waits" not in body
