"""One client's day as the mail tells it, against figures computed by hand from the database."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert

from inkasso.db.schema import (
    erp_client,
    erp_journal_line,
    ink_agreement,
    ink_case,
    ink_case_event,
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


def _journal(engine, day, debit, credit, ref, client_id=1, account="1684"):
    with engine.begin() as conn:
        conn.execute(
            insert(erp_journal_line).values(
                client_id=client_id,
                journal_date=day,
                account=account,
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


def test_a_shared_interim_account_is_given_once_not_in_each_agreements_section(erp_engine):
    # Lowell and Intrum book against the client's default 1684: one account, one balance
    agreements = (("INTRUM", "intrum", "settlement"), ("LOWELL", "lindorff", "settlement"))
    _client(erp_engine, agreements=agreements)
    _journal(erp_engine, DAY, 12_345, 0, "closure:1")
    _journal(erp_engine, DAY, 0, 2_000, "payout:1")
    _client(erp_engine, client_id=2, agreements=(("B1", "lindorff", "settlement"),))
    _journal(erp_engine, DAY, 7_000, 0, "other", client_id=2)  # another client's 1684
    report = gather_client_day(erp_engine, 1, DAY)
    rendered = render_report(report)
    for body in (rendered.text, rendered.html):
        assert body.count("103,45 NOK") == 1  # a finance person adding them gets it right
        assert "Interim account 1684 balance: 103,45 NOK" in body
        assert "shared with LOWELL" in body
        assert "shared with INTRUM: its balance is given once, under INTRUM" in body
    intrum, lowell = report.agencies
    assert (intrum.interim_balance, intrum.interim_shared_with) == (10_345, ["LOWELL"])
    assert (lowell.interim_balance, lowell.interim_shown_in) == (None, "INTRUM")


def test_interim_accounts_of_their_own_each_show_their_balance(erp_engine):
    _client(erp_engine, agreements=(("A1", "lindorff", "settlement"), ("A2", "creno", "bank")))
    with erp_engine.begin() as conn:  # a second settlement agreement on an account of its own
        conn.execute(
            insert(ink_agreement).values(
                agreement_id="A3",
                client_id=1,
                agency="credicare",
                country="NO",
                customer_no_at_agency="43",
                agency_bank_account="98765432109",
                mode="sftp",
                booking_mode="settlement",
                interim_account="1685",
            )
        )
    _journal(erp_engine, DAY, 1_000, 0, "closure:1")
    _journal(erp_engine, DAY, 2_000, 0, "closure:2", account="1685")
    a1, a2, a3 = gather_client_day(erp_engine, 1, DAY).agencies
    assert (a1.interim_balance, a1.interim_shared_with) == (1_000, [])  # A2 books by the bank
    assert (a2.interim_balance, a2.interim_shown_in) == (None, None)
    assert (a3.interim_account, a3.interim_balance, a3.interim_shown_in) == ("1685", 2_000, None)
    text = render_report(gather_client_day(erp_engine, 1, DAY)).text
    assert (
        "Interim account 1684 balance: 10,00 NOK (collected and booked, not yet paid out)\n" in text
    )
    assert "Interim account 1685 balance: 20,00 NOK" in text
    assert "shared" not in text


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


NOW = datetime(2026, 11, 2, 5, tzinfo=UTC)


def _case(engine, file_id, sent_amount, *, status="sent", invoice_id=1, **values):
    values = {"business_date": DAY - timedelta(days=20)} | values
    with engine.begin() as conn:
        return conn.execute(
            insert(ink_case).values(
                agreement_id="A1",
                invoice_id=invoice_id,
                customer_id=1,
                file_id=file_id,
                status=status,
                original_amount=sent_amount,
                sent_amount=sent_amount,
                currency="NOK",
                opened_at=NOW,
                **values,
            )
        ).inserted_primary_key[0]


def _event(engine, case_id, kind, file_id):
    with engine.begin() as conn:
        conn.execute(
            insert(ink_case_event).values(case_id=case_id, at=NOW, kind=kind, file_id=file_id)
        )


def test_a_closure_record_ignored_on_an_already_closed_case_is_no_closure_of_the_day(
    erp_engine,
):
    """The agency repeats the closure of a case it closed yesterday: the apply logs it
    ``closure_ignored`` and changes nothing, so today's closures do not count it again."""
    _client(erp_engine)
    sent = _file(
        erp_engine,
        "NY_1.txt",
        "new_cases",
        "delivered",
        direction="out",
        day=DAY - timedelta(days=20),
    )
    yesterday = _file(erp_engine, "AVSL_1.txt", "closure", "applied", day=DAY - timedelta(days=1))
    today = _file(erp_engine, "AVSL_2.txt", "closure", "applied")
    old = _case(
        erp_engine,
        sent,
        50_000,
        status="paid",
        is_open=False,
        invoice_id=1,
        collected_amount=50_000,
        closed_remaining_amount=0,
    )
    new = _case(
        erp_engine,
        sent,
        1,
        status="paid",
        is_open=False,
        invoice_id=2,
        collected_amount=1,
        closed_remaining_amount=0,
    )
    _event(erp_engine, old, "paid", yesterday)
    _event(erp_engine, old, "closure_ignored", today)
    _event(erp_engine, new, "paid", today)
    (section,) = gather_client_day(erp_engine, 1, DAY).agencies
    assert section.closures == [
        {"agreement_id": "A1", "status": "paid", "n": 1, "sent": 1, "collected": 1, "remaining": 0}
    ]
    (before,) = gather_client_day(erp_engine, 1, DAY - timedelta(days=1)).agencies
    assert [(c["status"], c["n"], c["sent"]) for c in before.closures] == [("paid", 1, 50_000)]


def test_a_rejection_ignored_on_a_closed_case_is_neither_accepted_nor_rejected(erp_engine):
    """A receipt file rejecting a case the agency already closed changes nothing (the apply
    logs ``rejection_ignored``): the mail must not count it as a receipt accepted."""
    _client(erp_engine)
    sent = _file(erp_engine, "NY_1.txt", "new_cases", "delivered", direction="out", day=DAY)
    receipt = _file(erp_engine, "KVITT_2.txt", "receipt", "applied")
    closed = _case(erp_engine, sent, 70_000, status="paid", is_open=False, invoice_id=1)
    fresh = _case(erp_engine, sent, 99, status="registered", invoice_id=2, agency_case_ref="R2")
    _event(erp_engine, closed, "rejection_ignored", receipt)
    _event(erp_engine, fresh, "registered", receipt)
    (section,) = gather_client_day(erp_engine, 1, DAY).agencies
    assert (section.receipts_accepted.n, section.receipts_accepted.amount) == (1, 99)
    assert section.receipts_rejected == []


def test_a_case_ended_unpaid_yesterday_is_not_listed_again_for_an_ignored_record(erp_engine):
    from inkasso.db.schema import erp_customer, erp_invoice

    _client(erp_engine)
    with erp_engine.begin() as conn:
        conn.execute(
            insert(erp_customer).values(
                customer_id=1,
                client_id=1,
                customer_no="C1",
                name="Ola",
                is_organisation=False,
                national_id="01019012345",
                country="NO",
            )
        )
        conn.execute(
            insert(erp_invoice).values(
                invoice_id=1,
                client_id=1,
                customer_id=1,
                invoice_no="F-1",
                invoice_date=DAY - timedelta(days=60),
                due_date=DAY - timedelta(days=30),
                currency="NOK",
                original_amount=10_000,
                remaining_amount=4_000,
                kid="1",
                status="collection_ended",
            )
        )
    sent = _file(erp_engine, "NY_1.txt", "new_cases", "delivered", direction="out")
    yesterday = _file(erp_engine, "AVSL_1.txt", "closure", "applied", day=DAY - timedelta(days=1))
    today = _file(erp_engine, "AVSL_2.txt", "closure", "applied")
    case = _case(erp_engine, sent, 10_000, status="uncollectible", is_open=False, invoice_id=1)
    _event(erp_engine, case, "uncollectible", yesterday)
    _event(erp_engine, case, "closure_ignored", today)
    (before,) = gather_client_day(erp_engine, 1, DAY - timedelta(days=1)).agencies
    assert [(x["invoice_no"], x["remaining_amount"]) for x in before.ended_unpaid] == [
        ("F-1", 4_000)
    ]
    (section,) = gather_client_day(erp_engine, 1, DAY).agencies
    assert section.ended_unpaid == [] and section.closures == []


def test_bank_payments_of_the_day_matched_and_unmatched_each_file(erp_engine):
    """Each bank file read: how many of its payments found their invoice and how many did
    not (money a person must place), counted from ``erp_payment``."""
    from inkasso.db.schema import erp_payment

    _client(erp_engine)
    bank = _file(erp_engine, "OCR.1.txt", "ocr_giro", "applied", agreement_id=None)
    _file(
        erp_engine,
        "OCR.old.txt",
        "ocr_giro",
        "applied",
        agreement_id=None,
        day=DAY - timedelta(days=1),
    )
    with erp_engine.begin() as conn:
        for ref, name, kind, amount in [
            ("a", "OCR.1.txt", "direct", 12_345),
            ("b", "OCR.1.txt", "direct", 99),
            ("c", "OCR.1.txt", "unmatched", 1),
            ("d", "OCR.old.txt", "unmatched", 50_000),  # yesterday's file
        ]:
            conn.execute(
                insert(erp_payment).values(
                    client_id=1,
                    bank_file=name,
                    payment_ref=ref,
                    amount=amount,
                    payment_date=DAY,
                    kind=kind,
                    booked_at=NOW,
                )
            )
    report = gather_client_day(erp_engine, 1, DAY)
    (entry,) = report.bank_files
    assert entry["file_name"] == "OCR.1.txt" and bank
    assert (entry["matched"], entry["unmatched"]) == (
        {"n": 2, "amount": 12_444},
        {"n": 1, "amount": 1},
    )
    assert "1 bank payment(s) not matched to an invoice" in report.attention
    text = render_report(report).text
    assert "matched 2 (124,44 NOK), unmatched 1 (0,01 NOK)" in text


def test_cases_without_receipt_on_a_backfilled_day_are_those_of_that_day(erp_engine):
    """A case sent 10 days before the day and answered only two days after it was without a
    receipt on the day: a backfill of the day says so, as the day's own run did."""
    _client(erp_engine)
    sent = _file(
        erp_engine,
        "NY_1.txt",
        "new_cases",
        "delivered",
        direction="out",
        day=DAY - timedelta(days=10),
    )
    later = _file(erp_engine, "KVITT_9.txt", "receipt", "applied", day=DAY + timedelta(days=2))
    answered = _case(
        erp_engine,
        sent,
        1_00,
        status="registered",
        invoice_id=1,
        agency_case_ref="R1",
        business_date=DAY - timedelta(days=10),
    )
    waiting = _case(erp_engine, sent, 99, invoice_id=2, business_date=DAY - timedelta(days=8))
    _event(erp_engine, answered, "registered", later)
    (section,) = gather_client_day(erp_engine, 1, DAY, stale_days=5).agencies
    assert (section.stale.n, section.stale.amount) == (2, 1_99)
    assert section.stale_oldest == DAY - timedelta(days=10)
    (after,) = gather_client_day(erp_engine, 1, DAY + timedelta(days=2), stale_days=5).agencies
    assert (after.stale.n, after.stale.amount) == (1, 99) and waiting


def test_held_invoices_in_another_currency_are_never_summed_into_the_clients(erp_engine):
    """The dispatch holds an invoice in another currency than the client's
    (``currency_mismatch``), and the minimum per customer and currency: each amount is shown
    in its own currency, never added to the client's."""
    from inkasso.db.schema import erp_customer, erp_invoice, ink_dispatch_hold

    _client(erp_engine)
    with erp_engine.begin() as conn:
        conn.execute(
            insert(erp_customer).values(
                customer_id=1,
                client_id=1,
                customer_no="C1",
                name="Ola",
                is_organisation=False,
                national_id="01019012345",
                country="NO",
            )
        )
        for invoice_id, currency, amount, reason in [
            (1, "NOK", 99, "below_minimum"),
            (2, "EUR", 1, "below_minimum"),
            (3, "EUR", 123_456_789_012_345, "currency_mismatch"),
        ]:
            conn.execute(
                insert(erp_invoice).values(
                    invoice_id=invoice_id,
                    client_id=1,
                    customer_id=1,
                    invoice_no=f"F-{invoice_id}",
                    invoice_date=DAY - timedelta(days=60),
                    due_date=DAY - timedelta(days=30),
                    currency=currency,
                    original_amount=amount,
                    remaining_amount=amount,
                    kid=str(invoice_id),
                    status="open",
                )
            )
            conn.execute(
                insert(ink_dispatch_hold).values(
                    agreement_id="A1",
                    business_date=DAY,
                    invoice_id=invoice_id,
                    customer_id=1,
                    reason=reason,
                )
            )
    report = gather_client_day(erp_engine, 1, DAY)
    (section,) = report.agencies
    assert sorted((h["reason"], h["currency"], h["n"], h["amount"]) for h in section.holds) == [
        ("below_minimum", "EUR", 1, 1),
        ("below_minimum", "NOK", 1, 99),
        ("currency_mismatch", "EUR", 1, 123_456_789_012_345),
    ]
    rendered = render_report(report)
    assert "  - below_minimum: 1  0,99 NOK" in rendered.text
    assert "  - below_minimum: 1  0,01 EUR" in rendered.text
    assert "  - currency_mismatch: 1  1 234 567 890 123,45 EUR" in rendered.text
    assert "1,00 NOK" not in rendered.text and "1 234 567 890 123,45 NOK" not in rendered.html
    assert "1 234 567 890 123,45 EUR" in rendered.html


class _Drop:
    """A bank drop as ``record_notices`` sees it."""

    client_id = 1

    def describe(self) -> str:
        return "sftp://bank_no/outbox"


HOSTILE = [
    "../../../../etc/passwd",
    "a\nb.txt",
    "x\r\nBcc: evil@example.com",
    "<script>alert(1)</script>.txt",
    'q"\\.txt',
    "\u202etxt.exe",
    "01019012345.txt",
]


def test_bank_files_refused_or_vanished_are_named_safely_and_need_a_person(erp_engine):
    """The bank import reports a listed name that is not a plain file name (``refused``) and a
    file gone before it was read (``vanished``) in no file log: the day's mail names them, each
    name quoted with its control characters escaped, never raw in the HTML, the text or the
    subject, national ids masked; a rerun of the import keeps each once."""
    from inkasso.bank.importer import record_notices

    _client(erp_engine)
    results = [{"status": "refused", "file_name": n} for n in HOSTILE]
    results += [{"status": "vanished", "file_name": "OCR.2.txt"}, {"status": "applied"}]
    for _ in range(2):  # the day's import run twice
        with erp_engine.begin() as conn:
            record_notices(conn, _Drop(), results, business_date=DAY, now=NOW, run_id="r")
    with erp_engine.begin() as conn:  # another day's notice is not this day's
        record_notices(
            conn, _Drop(), [{"status": "vanished", "file_name": "LATER.txt"}],
            business_date=DAY + timedelta(days=1), now=NOW,
        )  # fmt: skip
    report = gather_client_day(erp_engine, 1, DAY)
    assert sorted((x["status"], x["file_name"]) for x in report.bank_notices) == sorted([
        ("refused", '"../../../../etc/passwd"'),
        ("refused", '"010190*****.txt"'),
        ("refused", '"<script>alert(1)</script>.txt"'),
        ("refused", '"\\u202etxt.exe"'),
        ("refused", '"a\\x0ab.txt"'),
        ("refused", '"q\\"\\\\.txt"'),
        ("refused", '"x\\x0d\\x0aBcc: evil@example.com"'),
        ("vanished", '"OCR.2.txt"'),
    ])  # fmt: skip
    assert "7 bank file(s) refused (not a plain file name): not read" in report.attention
    assert "1 bank file(s) gone before they were read: not read" in report.attention
    rendered = render_report(report)
    assert "Bcc" not in rendered.subject and "\n" not in rendered.subject
    for body in (rendered.text, rendered.html):
        assert "01019012345" not in body
        assert "\r" not in body and "a\nb" not in body and "\u202e" not in body
        assert "evil@example.com" in body and "LATER.txt" not in body
    assert "<script>" not in rendered.html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;.txt" in rendered.html
    assert '  - "a\\x0ab.txt" refused in "sftp://bank_no/outbox"' in rendered.text
    assert '  - "OCR.2.txt" vanished in "sftp://bank_no/outbox"' in rendered.text
