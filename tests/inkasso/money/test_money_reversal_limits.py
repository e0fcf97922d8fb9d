"""A bank reversal never makes a debtor owe more than was ever paid back, and a payout on its way
is waited for. Scenarios from an adversarial review; both booking modes, SQLite and PostgreSQL.

* A payment below zero by an invoice's KID that takes back more than the invoice was ever paid
  (nothing paid, or less) is not booked on the invoice: it would raise the claim above what the
  debtor owes and be reported to the agency as more to collect. It waits unmatched, for a
  person (``erp/unmatch_reversals_beyond_paid.sql``).
* An ended case whose agency collected money not yet paid out keeps its invoice
  ``payout_pending`` even when the debtor paid the creditor the rest meanwhile: the payout is on
  its way, nothing for a person to decide (or write off)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.inkasso.money.world import SENT, books_close, kid, new_world, open_cases, pay

D1, D2, D3, D4 = (SENT + timedelta(days=n) for n in (3, 4, 5, 6))
A = 801


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def inv(status: str, remaining: int) -> dict:
    """An invoice's status and remaining amount, as ``World.invoice`` gives them."""
    return {"status": status, "remaining": remaining}


def unmatched(world) -> list[int]:
    """The amounts below zero recorded without an invoice (for a person to allocate)."""
    with world.engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT amount FROM erp_payment WHERE kind = 'unmatched' "
                "AND invoice_id IS NULL AND amount < 0 ORDER BY payment_id"
            )
        )
        return [int(amount) for (amount,) in rows]


def payout(world, day, amount: int) -> None:
    """The agency pays out what it collected on A: by A's KID (bank) or one lump."""
    ref = kid(A) if world.mode == "bank" else "91234"
    world.bank_file(day, [{"reference": ref, "amount": amount, "from_agency": True}])


def test_a_reversal_with_nothing_paid_waits_unmatched(world):
    """Nothing paid on A (1 000.00 at collection); a bank file carries -200.00 by A's KID: the
    claim stays 1 000.00, nothing goes to the agency, the -200.00 waits for a person."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, -20_000)
    assert world.invoice(A) == inv("at_collection", 100_000)
    assert unmatched(world) == [-20_000]
    out = world.corrections(D1)
    assert (out["corrections"], out["amount"]) == (0, 0), out
    books_close(world, D1)


def test_a_reversal_bigger_than_what_was_paid_waits_unmatched(world):
    """300.00 paid on A, then -500.00 by its KID: taking back 500.00 of 300.00 cannot be right,
    so the -500.00 waits for a person and A still owes 700.00; a reversal of the 300.00 itself
    is booked (1 000.00 owed again)."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 30_000)
    world.corrections(D1)
    pay(world, D2, A, -50_000)
    assert world.invoice(A) == inv("at_collection", 70_000)
    assert unmatched(world) == [-50_000]
    out = world.corrections(D2)
    assert out["corrections"] == 0, out
    books_close(world, D2)
    pay(world, D3, A, -30_000)
    assert world.invoice(A) == inv("at_collection", 100_000)
    out = world.corrections(D3)
    assert (out["corrections"], out["amount"]) == (1, -30_000), out
    books_close(world, D3)


def test_a_payment_and_its_reversal_in_one_file_are_both_booked(world):
    """+400.00 and -400.00 by A's KID in the same file: nothing was taken back beyond what was
    paid, both are booked on A, which owes 1 000.00."""
    open_cases(world.engine, {A: 100_000})
    world.bank_file(D1, [{"reference": kid(A), "amount": 40_000},
                         {"reference": kid(A), "amount": -40_000},
                         {"reference": "5555555555", "amount": 1_000_000}])  # fmt: skip
    assert world.invoice(A) == inv("at_collection", 100_000)
    assert unmatched(world) == []
    books_close(world, D1)


def test_a_reversal_on_a_recalled_invoice_with_nothing_paid_owes_nothing(world):
    """A recalled in full (credited, 0), nothing ever paid; -300.00 by A's KID: the debtor owes
    nothing, the invoice stays credited."""
    open_cases(world.engine, {A: 100_000})
    world.adjustment(A, "recall", 100_000, D1)
    world.corrections(D1)
    world.closure(D2, [{"case_id": A, "status": "recalled", "collected": 0, "remaining": 0}])
    assert world.invoice(A) == inv("credited", 0)
    pay(world, D3, A, -30_000)
    assert world.invoice(A) == inv("credited", 0)
    assert unmatched(world) == [-30_000]
    books_close(world, D3)


def test_the_rest_paid_directly_while_the_payout_is_on_its_way(world):
    """The agency closes A (1 000.00) with 300.00 collected and 700.00 left; before its payout
    arrives the debtor pays the creditor the 700.00. Bank mode: the invoice waits for the
    300.00 payout (payout_pending), not for a person; then it is paid, nothing to refund."""
    open_cases(world.engine, {A: 100_000})
    world.closure(D1, [{"case_id": A, "status": "closed", "collected": 30_000,
                        "remaining": 70_000}])  # fmt: skip
    pay(world, D2, A, 70_000)
    world.corrections(D2)
    bank = world.mode == "bank"
    assert world.invoice(A) == (inv("payout_pending", 30_000) if bank else inv("paid", 0))
    report = books_close(world, D2)
    assert not any("collection ended" in item for item in report.listed), report.listed
    payout(world, D3, 30_000)
    assert world.invoice(A) == inv("paid", 0)
    assert books_close(world, D3).totals["SEK"]["refund_due"] == 0
