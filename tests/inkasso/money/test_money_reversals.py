"""A reversal after an over-payment: the bank takes back a payment (a negative payment, BgMax
deduction / OCR giro reversal) on an invoice the debtor had paid beyond its claim. The invoice
must owe what is left given all recorded payments, never more than the debtor ever owed: the
over-paid part is remembered by the payments recorded, not lost when the remaining amount was
held at zero. Both booking modes, SQLite and PostgreSQL, the project's money check after every
step."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert

from inkasso.db.schema import erp_invoice
from tests.inkasso.money.world import SENT, books_close, kid, mail, new_world, open_cases

D1, D2, D3, D4 = (SENT + timedelta(days=n) for n in (3, 4, 5, 6))
A, B = 401, 402  # A has a case at collection; B (in some tests) is an ordinary open invoice


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def bank_file(world, day, payments: list[dict]) -> dict:
    """A bank file of ``day``; a BgMax deposit's total is never negative, so a file of reversals
    carries another client's payment as well (unknown reference: unmatched, books nothing)."""
    filler = {"reference": "5555555555", "amount": 1_000_000}
    return world.bank_file(day, [*payments, filler])


def refunds_listed(report) -> list[str]:
    return [item for item in report.listed if "received beyond the claim" in item]


def open_invoice_without_case(world, invoice_id: int, amount: int) -> None:
    """An ordinary open invoice of the world's customer, never sent to collection."""
    with world.engine.begin() as conn:
        conn.execute(
            insert(erp_invoice).values(
                invoice_id=invoice_id, client_id=4, customer_id=1,
                invoice_no=str(10_000_000 + invoice_id), invoice_date=SENT,
                due_date=SENT + timedelta(days=30), currency="SEK", original_amount=amount,
                remaining_amount=amount, kid=kid(invoice_id), status="open",
            )
        )  # fmt: skip


@pytest.mark.parametrize(
    ("reversed_", "remaining", "refund"),
    [
        (150_000, 100_000, 0),  # all of it: back to the 1 000.00 owed, not 1 500.00
        (30_000, 0, 20_000),  # less than the 500.00 over-paid: still 200.00 over-paid
        (80_000, 30_000, 0),  # more than the over-paid part: 300.00 owed again
    ],
)
def test_a_reversal_in_a_later_file_restores_only_what_is_owed(world, reversed_, remaining, refund):
    """A at collection owes 1 000.00; the debtor pays 1 500.00 (500.00 over-paid, a refund to
    handle); a later bank file reverses part or all of that payment. The invoice owes what the
    recorded payments leave, stays at collection, and the money check agrees."""
    open_cases(world.engine, {A: 100_000})
    bank_file(world, D1, [{"reference": kid(A), "amount": 150_000}])
    assert world.invoice(A) == {"status": "at_collection", "remaining": 0}
    report = books_close(world, D1)
    assert report.totals["SEK"]["refund_due"] == 50_000

    bank_file(world, D2, [{"reference": kid(A), "amount": -reversed_}])
    assert world.invoice(A) == {"status": "at_collection", "remaining": remaining}
    report = books_close(world, D2)
    assert report.totals["SEK"]["refund_due"] == refund
    assert len(refunds_listed(report)) == (1 if refund else 0)


@pytest.mark.parametrize(("reversed_", "remaining"), [(150_000, 100_000), (80_000, 30_000)])
def test_a_reversal_in_the_same_file_as_the_over_payment(world, reversed_, remaining):
    """The payment and its reversal in one bank file: what the file leaves is what is owed."""
    open_cases(world.engine, {A: 100_000})
    bank_file(
        world,
        D1,
        [{"reference": kid(A), "amount": 150_000}, {"reference": kid(A), "amount": -reversed_}],
    )
    assert world.invoice(A) == {"status": "at_collection", "remaining": remaining}
    report = books_close(world, D1)
    assert report.totals["SEK"]["refund_due"] == 0


def test_reversals_over_several_files_never_raise_the_claim_above_what_is_owed(world):
    """Over-paid, then reversed in two parts in two later files, then paid again: at each step
    the invoice owes exactly what the recorded payments leave."""
    open_cases(world.engine, {A: 100_000})
    bank_file(world, D1, [{"reference": kid(A), "amount": 150_000}])
    bank_file(world, D2, [{"reference": kid(A), "amount": -30_000}])  # 200.00 still over-paid
    assert world.invoice(A) == {"status": "at_collection", "remaining": 0}
    bank_file(world, D3, [{"reference": kid(A), "amount": -40_000}])  # 200.00 owed again
    assert world.invoice(A) == {"status": "at_collection", "remaining": 20_000}
    books_close(world, D3)
    bank_file(world, D4, [{"reference": kid(A), "amount": 20_000}])
    assert world.invoice(A) == {"status": "at_collection", "remaining": 0}
    report = books_close(world, D4)
    assert report.totals["SEK"]["refund_due"] == 0 and report.totals["SEK"]["open"] == 0


@pytest.mark.parametrize(
    ("reversed_", "after"),
    [
        (150_000, {"status": "open", "remaining": 100_000}),  # re-opened, 1 000.00 owed
        (30_000, {"status": "paid", "remaining": 0}),  # still 200.00 over-paid: stays paid
        (80_000, {"status": "open", "remaining": 30_000}),
    ],
)
def test_an_ordinary_invoice_over_paid_then_reversed(world, reversed_, after):
    """B was never sent to collection: over-paid and then reversed in a later file, it owes
    what its payments leave of its amount, re-opened only if money is owed again."""
    open_cases(world.engine, {A: 100_000})
    open_invoice_without_case(world, B, 100_000)
    bank_file(world, D1, [{"reference": kid(B), "amount": 150_000}])
    assert world.invoice(B) == {"status": "paid", "remaining": 0}
    bank_file(world, D2, [{"reference": kid(B), "amount": -reversed_}])
    assert world.invoice(B) == after
    books_close(world, D2)


def test_a_reversal_of_a_part_paid_invoice_still_raises_it_by_the_amount(world):
    """No over-payment involved: 400.00 paid of 1 000.00, then reversed: 1 000.00 owed again
    (the fix must not change what a plain reversal does)."""
    open_cases(world.engine, {A: 100_000})
    open_invoice_without_case(world, B, 100_000)
    bank_file(
        world,
        D1,
        [{"reference": kid(A), "amount": 40_000}, {"reference": kid(B), "amount": 100_000}],
    )
    assert world.invoice(B) == {"status": "paid", "remaining": 0}
    bank_file(
        world,
        D2,
        [{"reference": kid(A), "amount": -40_000}, {"reference": kid(B), "amount": -100_000}],
    )
    assert world.invoice(A) == {"status": "at_collection", "remaining": 100_000}
    assert world.invoice(B) == {"status": "open", "remaining": 100_000}
    books_close(world, D2)


def test_a_reversal_of_a_payment_after_the_case_ended_keeps_the_books(world):
    """The agency collected A in full and closed the case as paid (bank mode: its KID payout
    arrived); the debtor had paid the creditor 300.00 too (paid twice: a refund to handle).
    The bank reverses that 300.00: A stays paid at zero, nothing to refund any more."""
    open_cases(world.engine, {A: 100_000})
    world.closure(D1, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    if world.mode == "bank":
        bank_file(
            world,
            D2,
            [{"reference": kid(A), "amount": 100_000, "paid_on": D1, "from_agency": True}],
        )
    assert world.invoice(A) == {"status": "paid", "remaining": 0}
    bank_file(world, D2, [{"reference": kid(A), "amount": 30_000}])
    assert world.invoice(A) == {"status": "paid", "remaining": 0}
    assert books_close(world, D2).totals["SEK"]["refund_due"] == 30_000

    bank_file(world, D3, [{"reference": kid(A), "amount": -30_000}])
    assert world.invoice(A) == {"status": "paid", "remaining": 0}
    report = books_close(world, D3)
    assert report.totals["SEK"]["refund_due"] == 0 and not refunds_listed(report)


def test_a_reversal_after_the_case_ended_paid_leaves_the_invoice_for_a_person(world):
    """The debtor paid A directly (reported to the agency), the agency closed the case as paid
    with nothing collected; then the bank reverses the debtor's payment. Money is owed again on
    an invoice whose case has ended and no agency payout is on its way: 'collection_ended', for
    a person to decide (never plain 'open', which would send it back into dunning and dispatch
    by itself, nor 'payout_pending', which would wait for a payout that never comes). The day's
    mail says the money is owed again."""
    open_cases(world.engine, {A: 100_000})
    bank_file(world, D1, [{"reference": kid(A), "amount": 100_000}])
    world.corrections(D1)
    world.closure(D2, [{"case_id": A, "status": "paid", "collected": 0, "remaining": 0}])
    assert world.invoice(A) == {"status": "paid", "remaining": 0}
    books_close(world, D2)

    bank_file(world, D3, [{"reference": kid(A), "amount": -100_000}])
    assert world.invoice(A) == {"status": "collection_ended", "remaining": 100_000}
    world.corrections(D3)
    assert after_closure_events(world) == [(str(D3), -100_000, "owed_again", 0)]
    books_close(world, D3)
    report, body = mail(world, D3)
    assert "owed again" in body and "-1 000,00" in body
    assert any("owed again" in line for line in report.attention)


def test_a_reversal_beyond_a_counted_refund_takes_the_refund_back_and_is_owed_again(world):
    """A's debtor paid the whole 1 000.00 directly (reported), the agency closed the case as
    paid; the debtor then paid 300.00 more (a refund to handle). The bank reverses the first
    1 000.00: the 300.00 is no longer to refund (its refund taken back) and 700.00 is owed again
    on an ended case: one event, 'owed_again', refund -300.00; the invoice for a person."""
    open_cases(world.engine, {A: 100_000})
    bank_file(world, D1, [{"reference": kid(A), "amount": 100_000}])
    world.corrections(D1)
    world.closure(D2, [{"case_id": A, "status": "paid", "collected": 0, "remaining": 0}])
    bank_file(world, D2, [{"reference": kid(A), "amount": 30_000}])
    world.corrections(D2)
    bank_file(world, D3, [{"reference": kid(A), "amount": -100_000}])
    world.corrections(D3)
    assert after_closure_events(world) == [
        (str(D2), 30_000, "overpayment", 30_000),
        (str(D3), -100_000, "owed_again", -30_000),
    ]
    assert world.invoice(A) == {"status": "collection_ended", "remaining": 70_000}
    report = books_close(world, D3)
    assert report.totals["SEK"]["refund_due"] == 0 and not refunds_listed(report)
    mail_report, body = mail(world, D3)
    assert "owed again on an ended case" in body
    assert any("owed again" in line for line in mail_report.attention)


def test_a_reversal_while_the_agencys_payout_is_on_its_way_waits_for_it(erp_engine, tmp_path):
    """Bank mode: the agency closed A as paid having collected 600.00, after the debtor paid
    the creditor 400.00 directly; its payout has not come yet ('payout_pending'). The bank then
    reverses the debtor's 400.00: the invoice still waits for the payout, and once the payout
    is booked the 400.00 is owed with the collection ended: 'collection_ended'."""
    world = new_world(erp_engine, tmp_path / "files", "bank")  # settlement books at closure
    open_cases(world.engine, {A: 100_000})
    bank_file(world, D1, [{"reference": kid(A), "amount": 40_000}])
    world.corrections(D1)
    world.closure(D2, [{"case_id": A, "status": "paid", "collected": 60_000, "remaining": 0}])
    assert world.invoice(A) == {"status": "payout_pending", "remaining": 60_000}
    bank_file(world, D3, [{"reference": kid(A), "amount": -40_000}])
    assert world.invoice(A) == {"status": "payout_pending", "remaining": 100_000}
    books_close(world, D3)
    bank_file(
        world, D4, [{"reference": kid(A), "amount": 60_000, "paid_on": D3, "from_agency": True}]
    )
    assert world.invoice(A) == {"status": "collection_ended", "remaining": 40_000}
    books_close(world, D4)


def after_closure_events(world) -> list[tuple]:
    with world.engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(
            text(
                "SELECT business_date, amount, verdict, refund_amount FROM ink_after_closure"
                " ORDER BY event_id"
            )
        ).all()
    return [(str(r[0]), int(r[1]), r[2], int(r[3])) for r in rows]


def test_the_refund_listing_follows_an_over_payment_its_reversal_and_a_new_one(world):
    """After the case ended paid, the debtor pays 300.00 (paid twice: a refund to handle), the
    bank reverses it (no refund any more: the listing says so), then the debtor pays 300.00
    again: that is a refund to handle once more, never hidden because the first one was
    counted already."""
    open_cases(world.engine, {A: 100_000})
    world.closure(D1, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    if world.mode == "bank":
        bank_file(
            world,
            D1,
            [{"reference": kid(A), "amount": 100_000, "paid_on": D1, "from_agency": True}],
        )
    bank_file(world, D2, [{"reference": kid(A), "amount": 30_000}])
    world.corrections(D2)
    bank_file(world, D3, [{"reference": kid(A), "amount": -30_000}])
    world.corrections(D3)
    bank_file(world, D4, [{"reference": kid(A), "amount": 30_000}])
    world.corrections(D4)
    assert after_closure_events(world) == [
        (str(D2), 30_000, "overpayment", 30_000),
        (str(D3), -30_000, "refund_cancelled", -30_000),
        (str(D4), 30_000, "overpayment", 30_000),
    ]
    report = books_close(world, D4)
    assert report.totals["SEK"]["refund_due"] == 30_000


def test_a_credit_note_counts_in_what_a_reversal_gives_back(world):
    """A at collection owes 1 000.00; the creditor credits 300.00 (700.00 owed), the debtor
    pays the full 1 000.00 anyway (300.00 over-paid), the bank reverses it: 700.00 owed, not
    1 000.00."""
    open_cases(world.engine, {A: 100_000})
    world.adjustment(A, "credit_note", 30_000, D1)
    bank_file(world, D1, [{"reference": kid(A), "amount": 100_000}])
    assert world.invoice(A) == {"status": "at_collection", "remaining": 0}
    assert books_close(world, D1).totals["SEK"]["refund_due"] == 30_000
    bank_file(world, D2, [{"reference": kid(A), "amount": -100_000}])
    assert world.invoice(A) == {"status": "at_collection", "remaining": 70_000}
    assert books_close(world, D2).totals["SEK"]["refund_due"] == 0
