"""Money beyond the claim while a case is open: a refund the day's mail lists, once.

A debtor who pays the creditor directly more than the case claimed, or whose direct payment the
agency collects again, has over-paid before the case ended. No after-closure event shows that
(those are for money that moves after the case ended), so the mail lists the case under "paid
beyond the claim" with what is to refund, as the books stand, until the money goes back; money
that moves after the case ended stays in its own list and is not counted twice. Both booking
modes, SQLite and PostgreSQL; the money check closes after every step."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update

from inkasso.db.schema import erp_invoice, ink_case
from inkasso.report.render import render_report
from tests.inkasso.money.world import (
    SENT,
    books_close,
    kid,
    mail,
    new_world,
    open_cases,
    pay,
    receipt_rejecting,
)

D1, D2, D3, D4, D5 = (SENT + timedelta(days=n) for n in (3, 4, 5, 6, 7))
A, B = 601, 602


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def beyond_claim(report) -> list[tuple[str, int, bool, int]]:
    """The mail's "paid beyond the claim" lines: (invoice number, case, case open, to refund)."""
    rows = [x for a in report.agencies for x in a.beyond_claim]
    return [(x["invoice_no"], x["case_id"], x["is_open"], x["to_refund"]) for x in rows]


def after_closure_refunds(report) -> list[tuple[str, int]]:
    """The mail's after-closure lines that count a refund: (invoice number, refund)."""
    rows = [x for a in report.agencies for x in a.after_closure if x["refund_amount"]]
    return [(x["invoice_no"], x["refund_amount"]) for x in rows]


def no(invoice_id: int) -> str:
    """The world's invoice number of an invoice."""
    return str(10_000_000 + invoice_id)


def agency_closes(world, day, case_id: int, collected: int, remaining: int = 0) -> None:
    """The agency closes the case as paid (collected in full) or closed, and pays out what it
    collected (bank mode: by the invoice's KID the next day)."""
    status = "paid" if remaining == 0 else "closed"
    world.closure(day, [{"case_id": case_id, "status": status, "collected": collected,
                         "remaining": remaining}])  # fmt: skip
    if world.mode == "bank" and collected:
        world.bank_file(day + timedelta(days=1), [
            {"reference": kid(case_id), "amount": collected, "from_agency": True}])  # fmt: skip


def test_paying_twice_while_the_case_is_open_is_a_refund_listed_until_it_goes_back(world):
    """A's debtor pays the creditor the whole claim, then 300.00 more, while the agency still
    has the case: the mail lists 300.00 to refund on the open case (and in its first lines);
    B, paid exactly, is not listed. The agency then closes A with nothing collected: still
    listed once, now closed. The bank reverses the extra 300.00: nothing left to list."""
    open_cases(world.engine, {A: 100_000, B: 50_000})
    pay(world, D1, A, 100_000)
    pay(world, D1, B, 50_000)
    world.corrections(D1)
    report, _ = mail(world, D1)
    assert beyond_claim(report) == []
    pay(world, D2, A, 30_000)
    world.corrections(D2)
    books_close(world, D2)
    report, body = mail(world, D2)
    assert beyond_claim(report) == [(no(A), A, True, 30_000)]
    assert any("paid beyond the claim" in line for line in report.attention)
    assert f"invoice {no(A)} (case {A}, open): 300,00 SEK to refund" in body
    html = render_report(report).html
    assert "Paid beyond the claim while the case was open" in html
    assert f'<td>{no(A)}</td><td>{A}</td><td>open</td><td class="num">300,00' in html

    world.closure(D3, [{"case_id": A, "status": "closed", "collected": 0, "remaining": 0}])
    world.corrections(D3)
    books_close(world, D3)
    report, _ = mail(world, D3)
    assert beyond_claim(report) == [(no(A), A, False, 30_000)]
    assert after_closure_refunds(report) == []

    pay(world, D4, A, -30_000)
    world.corrections(D4)
    books_close(world, D4)
    report, _ = mail(world, D4)
    assert beyond_claim(report) == []


def test_a_direct_payment_the_agency_collects_again_is_a_refund_listed_once(world):
    """A's debtor pays 600.00 to the creditor, and the correction tells the agency; the agency
    collects the whole 1 000.00 anyway and closes the case as paid: 600.00 paid twice, beyond
    the claim. B's debtor does the same, but the agency closes B before the correction is
    sent: the agency is never told, so the payment is money after closure, listed there (as
    paid twice) and not again as beyond the claim."""
    open_cases(world.engine, {A: 100_000, B: 100_000})
    pay(world, D1, A, 60_000)
    world.corrections(D1)
    pay(world, D2, B, 60_000)
    agency_closes(world, D2, A, collected=100_000)
    agency_closes(world, D2, B, collected=100_000)
    world.corrections(D3)
    books_close(world, D3)
    report, body = mail(world, D3)
    assert beyond_claim(report) == [(no(A), A, False, 60_000)]
    assert f"invoice {no(A)} (case {A}, paid): 600,00 SEK to refund" in body
    assert after_closure_refunds(report) == [(no(B), 60_000)]


def test_money_after_the_case_ended_is_listed_once_under_after_closure(world):
    """The agency collects A in full and closes it; then the debtor pays 200.00 more to the
    creditor: an after-closure over-payment, listed there and not again as beyond the claim."""
    open_cases(world.engine, {A: 100_000})
    agency_closes(world, D1, A, collected=100_000)
    pay(world, D3, A, 20_000)
    world.corrections(D3)
    books_close(world, D3)
    report, _ = mail(world, D3)
    assert after_closure_refunds(report) == [(no(A), 20_000)]
    assert beyond_claim(report) == []


def test_a_credit_note_on_a_claim_the_debtor_already_paid_is_a_refund(world):
    """A's debtor pays the whole claim directly; the case is still open when the ERP credits
    250.00 of the invoice: 250.00 to refund, on the open case."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 100_000)
    world.corrections(D1)
    world.adjustment(A, "credit_note", 25_000, D2)
    world.corrections(D2)
    books_close(world, D2)
    report, _ = mail(world, D2)
    assert beyond_claim(report) == [(no(A), A, True, 25_000)]


def test_a_backfilled_days_mail_says_the_list_is_the_books_of_now(world):
    """The mail of an earlier day shows the refund as the books stand when it is built, and
    says so."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 130_000)
    world.corrections(D1)
    read_at = datetime(D1.year, D1.month, D1.day, 8, 30, tzinfo=UTC)
    _, body = mail(world, D1 - timedelta(days=1), as_of=read_at)
    assert "300,00 SEK to refund" in body
    assert f"refunds to handle (the books as of {D1} 08:30 UTC)" in body
    _, body = mail(world, D1, as_of=read_at)
    assert "300,00 SEK to refund" in body and "the books as of" not in body


def send_again(world, invoice_id: int, case_id: int, day) -> None:
    """The invoice, back with the creditor after its case was rejected, goes to collection
    again: a new case of the same invoice (as a dispatch of ``day`` opens it)."""
    with world.engine.begin() as conn:
        first = (
            conn.execute(select(ink_case).where(ink_case.c.invoice_id == invoice_id))
            .mappings()
            .first()
        )
        opened = datetime(day.year, day.month, day.day, 4, tzinfo=UTC)
        conn.execute(insert(ink_case).values(
            {k: v for k, v in first.items() if k not in ("rejection_reason",)}
            | {"case_id": case_id, "status": "registered", "is_open": True, "business_date": day,
               "opened_at": opened, "agency_case_ref": f"L{case_id}"}))  # fmt: skip
        conn.execute(
            update(erp_invoice)
            .where(erp_invoice.c.invoice_id == invoice_id)
            .values(status="at_collection")
        )


def test_a_refund_on_an_invoice_sent_twice_is_listed_once(world):
    """A's first case is rejected and the invoice is sent again in a new case; the debtor then
    pays 1 300.00 on the 1 000.00 claim. Both cases see that payment, but the refund is one:
    the mail and the money check each list 300.00 once, on the latest case."""
    open_cases(world.engine, {A: 100_000})
    receipt_rejecting(world, D1, A)
    send_again(world, A, A + 1000, D2)
    pay(world, D3, A, 130_000)
    world.corrections(D3)
    check = books_close(world, D3)
    refunds = [item for item in check.listed if "received beyond the claim" in item]
    assert len(refunds) == 1 and f"case {A + 1000} " in refunds[0] and "300,00" in refunds[0]
    report, _ = mail(world, D3)
    assert beyond_claim(report) == [(no(A), A + 1000, True, 30_000)]


def test_a_refund_paid_back_while_the_case_is_open_clears_the_list(world):
    """The creditor pays A's debtor back the 300.00 paid beyond the claim while the agency
    still has the case (a negative direct payment): nothing is left to list, and the books
    close."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 130_000)
    world.corrections(D1)
    pay(world, D2, A, -30_000)
    world.corrections(D2)
    books_close(world, D2)
    report, _ = mail(world, D2)
    assert beyond_claim(report) == []
    assert world.invoice(A)["remaining"] == 0
