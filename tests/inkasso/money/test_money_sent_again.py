"""An invoice sent to collection again: each payment is in the books of one case.

The pipeline never sends an invoice a second time by itself (dispatch's ``earlier_case`` hold),
but a case may be opened for it outside the pipeline after the first ended with money still
owed: the new case takes over what the first left open. From then on the new case counts the money
that moves on the invoice; the first case's books stop at that point, and what it left open is
``sent_again`` in the money check's totals (the new case's ``sent`` counts it), so a payment is
never counted twice and each currency's totals still add up. A rejected later case takes nothing
over. Both booking modes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, select, update

from inkasso.db.schema import erp_invoice, ink_case
from inkasso.money.books import TERMS
from tests.inkasso.money.world import (
    SENT,
    books_close,
    kid,
    new_world,
    open_cases,
    pay,
    receipt_rejecting,
)

D1, D2, D3, D4, D5 = (SENT + timedelta(days=n) for n in (3, 4, 5, 6, 7))
A, B = 701, 702
A2 = A + 1000  # A's second case


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def agency_ends_unpaid(world, day, case_id: int, collected: int, remaining: int) -> None:
    """The agency closes the case with money still owed, and pays out what it collected
    (bank mode: by the invoice's KID the next day)."""
    world.closure(day, [{"case_id": case_id, "status": "closed", "collected": collected,
                         "remaining": remaining}])  # fmt: skip
    if world.mode == "bank":
        world.bank_file(day + timedelta(days=1), [
            {"reference": kid(case_id), "amount": collected, "from_agency": True}])  # fmt: skip


def send_again(world, invoice_id: int, case_id: int, day) -> None:
    """A case for the invoice opened outside the pipeline on ``day``, as a dispatch would open
    it: claiming the invoice's remaining amount, the invoice at collection."""
    with world.engine.begin() as conn:
        first = conn.execute(
            select(ink_case).where(ink_case.c.invoice_id == invoice_id).order_by(ink_case.c.case_id)
        ).mappings().first()  # fmt: skip
        remaining = conn.execute(
            select(erp_invoice.c.remaining_amount).where(erp_invoice.c.invoice_id == invoice_id)
        ).scalar_one()
        keep = ("agreement_id", "invoice_id", "customer_id", "file_id", "original_amount",
                "currency")  # fmt: skip
        conn.execute(insert(ink_case).values(
            {k: first[k] for k in keep}
            | {"case_id": case_id, "status": "registered", "is_open": True, "sent_amount": remaining,
               "business_date": day, "opened_at": world.tick(), "agency_case_ref": f"L{case_id}"}
        ))  # fmt: skip
        conn.execute(
            update(erp_invoice)
            .where(erp_invoice.c.invoice_id == invoice_id)
            .values(status="at_collection")
        )


def books_of(world, case_id: int) -> dict:
    """One case's books (inkasso.money.books)."""
    from inkasso.money.books import case_books

    with world.engine.connect() as conn:
        (row,) = case_books(conn, case_ids=[case_id]).to_dict("records")
    return row


def adds_up(totals: dict) -> bool:
    """sent = collected + direct + credited + recalled + written off + sent again + open."""
    return totals["sent"] == sum(totals[t] for t in (*TERMS, "sent_again", "open"))


def test_a_payment_after_the_invoice_was_sent_again_counts_once(world):
    """A (1 000.00) ends with 300.00 collected and 700.00 owed; it is sent again and the debtor
    pays 200.00 directly, then 100.00 more. The second case counts both payments, the first
    case's books stop where the second began, and the totals count each payment once: sent
    1 700.00 = collected 300.00 + direct 300.00 + sent again 700.00 + open 400.00."""
    open_cases(world.engine, {A: 100_000, B: 50_000})
    agency_ends_unpaid(world, D1, A, collected=30_000, remaining=70_000)
    books_close(world, D2)
    send_again(world, A, A2, D3)
    pay(world, D4, A, 20_000)
    world.corrections(D4)
    pay(world, D5, A, 10_000)
    world.corrections(D5)
    first, second = books_of(world, A), books_of(world, A2)
    assert (first["direct"], first["open"], first["sent_again"]) == (0, 70_000, True)
    assert (second["sent"], second["direct"], second["open"]) == (70_000, 30_000, 40_000)
    assert not second["sent_again"]
    totals = books_close(world, D5).totals["SEK"]
    assert totals["sent"] == 100_000 + 70_000 + 50_000
    assert (totals["collected"], totals["direct"]) == (30_000, 30_000)
    assert (totals["sent_again"], totals["open"]) == (70_000, 40_000 + 50_000)
    assert adds_up(totals)
    assert world.invoice(A)["remaining"] == 40_000
    # the Inkasso view's case page shows the first case's open amount as handed on
    from inkasso.ui.queries import case_detail

    with world.engine.connect() as conn:
        money = case_detail(conn, A, today=D5)["money"]
        assert (money["open"], money["sent_again"]) == (70_000, True)
        assert case_detail(conn, A2, today=D5)["money"]["sent_again"] is False


def test_a_payment_before_the_invoice_was_sent_again_stays_with_the_first_case(world):
    """A direct payment while A's first case was still open is that case's; one after it was
    sent again is the second case's: neither is in both."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 10_000)
    world.corrections(D1)
    agency_ends_unpaid(world, D2, A, collected=30_000, remaining=60_000)
    send_again(world, A, A2, D3)
    pay(world, D4, A, 25_000)
    world.corrections(D4)
    first, second = books_of(world, A), books_of(world, A2)
    assert (first["direct"], first["open"]) == (10_000, 60_000)
    assert (second["sent"], second["direct"], second["open"]) == (60_000, 25_000, 35_000)
    totals = books_close(world, D4).totals["SEK"]
    assert (totals["direct"], totals["sent_again"], totals["open"]) == (35_000, 60_000, 35_000)
    assert adds_up(totals)


def test_a_credit_note_after_the_invoice_was_sent_again_counts_once(world):
    """A credit note the ERP registers after the invoice was sent again lowers the second
    case's claim only."""
    open_cases(world.engine, {A: 100_000})
    agency_ends_unpaid(world, D1, A, collected=40_000, remaining=60_000)
    send_again(world, A, A2, D2)
    world.adjustment(A, "credit_note", 15_000, D3)
    world.corrections(D3)
    first, second = books_of(world, A), books_of(world, A2)
    assert (first["credited"], second["credited"]) == (0, 15_000)
    totals = books_close(world, D3).totals["SEK"]
    assert (totals["credited"], totals["sent_again"], totals["open"]) == (15_000, 60_000, 45_000)
    assert adds_up(totals)


def test_a_rejected_later_case_takes_nothing_over(world):
    """A's first case is rejected, so the second took nothing over from it; and a second case
    that is itself rejected leaves the money with the first: no term is lost or doubled."""
    open_cases(world.engine, {A: 100_000, B: 80_000})
    receipt_rejecting(world, D1, A)
    send_again(world, A, A2, D2)
    agency_ends_unpaid(world, D2, B, collected=20_000, remaining=60_000)
    send_again(world, B, B + 1000, D3)
    receipt_rejecting(world, D3, B + 1000)
    pay(world, D4, A, 30_000)
    pay(world, D4, B, 5_000)
    world.corrections(D4)
    assert books_of(world, A)["sent_again"] is False  # rejected: it held nothing to hand on
    b_first = books_of(world, B)
    assert (b_first["direct"], b_first["open"], b_first["sent_again"]) == (5_000, 55_000, False)
    totals = books_close(world, D4).totals["SEK"]
    assert totals["sent"] == 100_000 + 80_000
    assert (totals["direct"], totals["sent_again"]) == (30_000 + 5_000, 0)
    assert totals["open"] == 70_000 + 55_000
    assert adds_up(totals)
