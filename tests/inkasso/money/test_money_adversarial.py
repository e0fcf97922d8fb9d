"""Adversarial scenarios: events combined in orders the other money tests do not use. After
every step the project's money check closes and the invoice's remaining amount and status are
what an accountant works out by hand. Both booking modes, SQLite and PostgreSQL. (The
reversals beyond anything paid and the payout on its way that this review found wrong are in
``test_money_reversal_limits.py``.)"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.inkasso.money.world import FILLER, SENT, books_close, kid, new_world, open_cases, pay

D1, D2, D3, D4, D5 = (SENT + timedelta(days=n) for n in (3, 4, 5, 6, 7))
A, B = 701, 702


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def payout(world, day, invoice_id: int, amount: int, paid_on=None) -> None:
    """The agency pays out what it collected: by the invoice's KID (bank) or one lump."""
    ref = kid(invoice_id) if world.mode == "bank" else "91234"
    world.bank_file(day, [{"reference": ref, "amount": amount, "from_agency": True,
                           "paid_on": paid_on or day - timedelta(days=1)}])  # fmt: skip


def close(world, day, case_id, status, collected, remaining):
    return world.closure(day, [{"case_id": case_id, "status": status, "collected": collected,
                                "remaining": remaining}])  # fmt: skip


def refund(report) -> int:
    return report.totals["SEK"]["refund_due"]


def inv(status, remaining):
    return {"status": status, "remaining": remaining}


# --- partial closure, then a later full closure -------------------------------------------


def test_partly_paid_then_paid_in_a_later_file(world):
    """partly_paid 300.00 of 1 000.00, payout; then paid 1 000.00, payout of the 700.00."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 30_000, 70_000)
    bank = world.mode == "bank"
    assert world.invoice(A) == inv("at_collection", 100_000 if bank else 70_000)
    books_close(world, D1)
    payout(world, D2, A, 30_000)
    assert world.invoice(A) == inv("at_collection", 70_000)
    books_close(world, D2)
    close(world, D2, A, "paid", 100_000, 0)
    assert world.invoice(A) == (inv("payout_pending", 70_000) if bank else inv("paid", 0))
    books_close(world, D2)
    payout(world, D3, A, 70_000)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D3)) == 0


def test_partly_paid_then_uncollectible_with_nothing_more(world):
    """partly_paid 300.00, then uncollectible with the same 300.00 collected: 700.00 owed,
    collection ended (a person decides), once the 300.00 payout arrived."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 30_000, 70_000)
    payout(world, D2, A, 30_000)
    close(world, D2, A, "uncollectible", 30_000, 70_000)
    assert world.invoice(A) == inv("collection_ended", 70_000)
    report = books_close(world, D2)
    assert report.totals["SEK"]["open"] == 70_000


def test_partly_paid_twice_then_paid_before_any_payout(world):
    """Three closures 200.00, 500.00, 1 000.00 before the agency pays anything, then one
    payout of 1 000.00 (bank mode: by KID; settlement: lump)."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 20_000, 80_000)
    close(world, D1, A, "partly_paid", 50_000, 50_000)
    close(world, D2, A, "paid", 100_000, 0)
    bank = world.mode == "bank"
    assert world.invoice(A) == (inv("payout_pending", 100_000) if bank else inv("paid", 0))
    books_close(world, D2)
    payout(world, D3, A, 100_000, paid_on=D2)
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D3)


# --- direct payment on the day of the closure ---------------------------------------------


def test_direct_payment_reported_the_day_the_agency_closes_taking_it_into_account(world):
    """D1: the debtor pays 400.00 directly (bank file 04:00), the correction goes (04:30), the
    agency closes as paid with 600.00 collected. 0 owed, nothing to refund."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 40_000)
    assert world.corrections(D1)["corrections"] == 1
    close(world, D1, A, "paid", 60_000, 0)
    if world.mode == "bank":
        assert world.invoice(A) == inv("payout_pending", 60_000)
        books_close(world, D1)
        payout(world, D2, A, 60_000, paid_on=D1)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D2)) == 0


def test_direct_payment_read_after_the_closure_on_the_same_day(world):
    """D1: the agency closes A as partly paid (300.00), and later that day a bank file books a
    direct payment of 700.00. The corrections of D1 report it (the case is still open). The
    agency then closes as paid with 300.00 collected: nothing owed, nothing to refund."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 30_000, 70_000)
    pay(world, D1, A, 70_000)
    bank = world.mode == "bank"
    assert world.invoice(A) == inv("at_collection", 30_000 if bank else 0)
    out = world.corrections(D1)
    assert (out["corrections"], out["amount"]) == (1, 70_000)
    books_close(world, D1)
    payout(world, D2, A, 30_000, paid_on=D1)
    close(world, D2, A, "paid", 30_000, 0)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D2)) == 0


# --- exact amounts, 1 øre --------------------------------------------------------------------


def test_direct_payment_exactly_the_remaining_after_a_partial_collection(world):
    """partly_paid 333.33 (paid out), the debtor pays exactly the 666.67 left: 0 owed, still at
    collection until the agency closes it as paid with 333.33 collected."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 33_333, 66_667)
    payout(world, D2, A, 33_333, paid_on=D1)
    pay(world, D2, A, 66_667)
    assert world.invoice(A) == inv("at_collection", 0)
    world.corrections(D2)
    assert refund(books_close(world, D2)) == 0
    close(world, D3, A, "paid", 33_333, 0)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D3)) == 0


def test_one_ore_amounts(world):
    """A claims 0.01: paid 0.01 directly, then 0.01 more (0.01 to refund), the agency closes as
    paid with nothing collected; B claims 1 000.00: the agency collects 999.99 and closes as
    closed with 0.01 left: 0.01 owed, collection ended."""
    open_cases(world.engine, {A: 1, B: 100_000})
    pay(world, D1, A, 1)
    assert world.invoice(A) == inv("at_collection", 0)
    world.bank_file(D1, [{"reference": kid(A), "amount": 1}, FILLER | {"amount": 999_999}])
    assert world.invoice(A) == inv("at_collection", 0)
    world.corrections(D1)
    assert refund(books_close(world, D1)) == 1
    close(world, D2, A, "paid", 0, 0)
    close(world, D2, B, "closed", 99_999, 1)
    if world.mode == "bank":
        payout(world, D3, B, 99_999, paid_on=D2)
    else:
        books_close(world, D2)
        payout(world, D3, B, 99_999, paid_on=D2)
    assert world.invoice(A) == inv("paid", 0)
    assert world.invoice(B) == inv("collection_ended", 1)
    report = books_close(world, D3)
    assert refund(report) == 1 and report.totals["SEK"]["open"] == 0  # A's -1, B's +1 ...


# --- reversal of a payment reported to the agency -------------------------------------------


def test_reversal_of_a_reported_direct_payment_is_reported_and_the_claim_restored(world):
    """400.00 paid directly and reported (DP 400.00); the bank reverses it the next day: the
    invoice owes 1 000.00 again and a DP -400.00 goes to the agency; the agency then collects
    all 1 000.00."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 40_000)
    world.corrections(D1)
    pay(world, D2, A, -40_000)
    assert world.invoice(A) == inv("at_collection", 100_000)
    out = world.corrections(D2)
    assert (out["corrections"], out["amount"]) == (1, -40_000)
    books_close(world, D2)
    close(world, D3, A, "paid", 100_000, 0)
    payout(world, D4, A, 100_000, paid_on=D3)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D4)) == 0


def test_reversal_of_a_reported_payment_after_the_agency_closed_taking_it_into_account(world):
    """400.00 paid directly, reported; the agency closes as paid having collected 600.00 (it
    counted the 400.00); then the bank reverses the 400.00: 400.00 owed on an ended case
    (collection_ended once the 600.00 payout is in)."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 40_000)
    world.corrections(D1)
    close(world, D2, A, "paid", 60_000, 0)
    payout(world, D3, A, 60_000, paid_on=D2)
    assert world.invoice(A) == inv("paid", 0)
    pay(world, D4, A, -40_000)
    assert world.invoice(A) == inv("collection_ended", 40_000)
    world.corrections(D4)
    assert refund(books_close(world, D4)) == 0


# --- credit note after a partly_paid closure ------------------------------------------------


def test_credit_note_after_partly_paid(world):
    """partly_paid 300.00 (paid out), credit note 200.00 (reported): 500.00 owed; the agency
    collects the 500.00 and closes as paid with 800.00."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 30_000, 70_000)
    payout(world, D2, A, 30_000, paid_on=D1)
    world.adjustment(A, "credit_note", 20_000, D2)
    assert world.invoice(A) == inv("at_collection", 50_000)
    out = world.corrections(D2)
    assert (out["corrections"], out["amount"]) == (1, 20_000)
    books_close(world, D2)
    close(world, D3, A, "paid", 80_000, 0)
    payout(world, D4, A, 50_000, paid_on=D3)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D4)) == 0


def test_credit_note_beyond_what_is_left_after_partly_paid(world):
    """partly_paid 300.00 (paid out), then a credit note of 800.00 on the 700.00 left: 0 owed
    and 100.00 to refund; the agency closes the case as recalled with 300.00 collected."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 30_000, 70_000)
    payout(world, D2, A, 30_000, paid_on=D1)
    world.adjustment(A, "credit_note", 80_000, D2)
    world.corrections(D2)
    assert world.invoice(A) == inv("at_collection", 0)
    assert refund(books_close(world, D2)) == 10_000
    close(world, D3, A, "recalled", 30_000, 0)
    assert world.invoice(A) == inv("credited", 0)
    assert refund(books_close(world, D3)) == 10_000


# --- bank mode: payouts before and twice --------------------------------------------------------


def test_payout_before_an_uncollectible_closure(world):
    """The agency pays 300.00 (bank: by KID) the day before its closure says uncollectible with
    300.00 collected: 700.00 owed, collection ended."""
    open_cases(world.engine, {A: 100_000})
    payout(world, D1, A, 30_000, paid_on=D1 - timedelta(days=1))
    if world.mode == "bank":
        assert world.invoice(A) == inv("at_collection", 70_000)
    books_close(world, D1)
    close(world, D1, A, "uncollectible", 30_000, 70_000)
    assert world.invoice(A) == inv("collection_ended", 70_000)
    report = books_close(world, D1)
    assert not [i for i in report.listed if "waiting" in i]


def test_two_payouts_for_one_closure(world):
    """The agency closes as paid (1 000.00) and pays out in two parts, 600.00 and 400.00."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "paid", 100_000, 0)
    payout(world, D2, A, 60_000, paid_on=D1)
    if world.mode == "bank":
        assert world.invoice(A) == inv("payout_pending", 40_000)
    else:
        assert world.invoice(A) == inv("paid", 0)
    books_close(world, D2)
    payout(world, D3, A, 40_000, paid_on=D2)
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D3)


def test_two_payouts_for_one_case_in_one_bank_file(world):
    """Two KID payouts of 500.00 each for one case in the same bank file."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "paid", 100_000, 0)
    ref = kid(A) if world.mode == "bank" else "91234"
    world.bank_file(D2, [{"reference": ref, "amount": 50_000, "from_agency": True, "paid_on": D1},
                         {"reference": ref, "amount": 50_000, "from_agency": True,
                          "paid_on": D1}])  # fmt: skip
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D2)


# --- closure records repeated -----------------------------------------------------------------


def test_a_later_file_repeating_a_paid_record(world):
    """The agency's paid record (1 000.00) arrives again in a later file: ignored, nothing
    booked twice."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "paid", 100_000, 0)
    payout(world, D2, A, 100_000, paid_on=D1)
    close(world, D2, A, "paid", 100_000, 0)
    assert world.invoice(A) == inv("paid", 0)
    report = books_close(world, D2)
    assert report.totals["SEK"]["collected"] == 100_000 and refund(report) == 0


def test_a_later_file_repeating_a_partly_paid_record(world):
    """partly_paid 300.00 twice (a later file repeats it): 300.00 collected once."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 30_000, 70_000)
    close(world, D2, A, "partly_paid", 30_000, 70_000)
    payout(world, D3, A, 30_000, paid_on=D2)
    assert world.invoice(A) == inv("at_collection", 70_000)
    report = books_close(world, D3)
    assert report.totals["SEK"]["collected"] == 30_000


def test_the_same_record_twice_in_one_closure_file(world):
    """One closure file with A's partly_paid 300.00 record twice: quarantined whole, nothing
    booked (never 600.00 collected)."""
    open_cases(world.engine, {A: 100_000})
    rec = {"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}
    with pytest.raises(AssertionError, match="appears more than once"):
        world.closure(D1, [rec, rec])
    assert world.invoice(A) == inv("at_collection", 100_000)
    assert books_close(world, D1).totals["SEK"]["collected"] == 0


def test_paid_then_more_collected_than_sent_after_closure(world):
    """paid 1 000.00; a later file says 1 000.00 collected again with status closed (no
    increase): ignored. The invoice stays paid."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "paid", 100_000, 0)
    payout(world, D2, A, 100_000, paid_on=D1)
    close(world, D3, A, "closed", 100_000, 0)
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D3)


# --- recall then a late payment ----------------------------------------------------------------


def test_recall_then_a_direct_payment_while_the_case_is_still_open(world):
    """The creditor recalls all 1 000.00 (reported); before the agency closes, the debtor pays
    400.00 directly: 400.00 to refund; the agency then closes as recalled."""
    open_cases(world.engine, {A: 100_000})
    world.adjustment(A, "recall", 100_000, D1)
    world.corrections(D1)
    pay(world, D2, A, 40_000)
    assert world.invoice(A) == inv("at_collection", 0)
    world.corrections(D2)
    assert refund(books_close(world, D2)) == 40_000
    close(world, D3, A, "recalled", 0, 0)
    assert world.invoice(A) == inv("credited", 0)
    assert refund(books_close(world, D3)) == 40_000


def test_partial_recall_then_late_payment_after_recalled_closure(world):
    """The debtor paid 300.00 directly, the creditor recalls the 700.00 left, the agency closes
    as recalled; the debtor then pays 700.00 more: 700.00 to refund, invoice credited."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 30_000)
    world.adjustment(A, "recall", 70_000, D1)
    world.corrections(D1)
    close(world, D2, A, "recalled", 0, 0)
    assert world.invoice(A) == inv("credited", 0)
    pay(world, D3, A, 70_000)
    world.corrections(D3)
    assert world.invoice(A) == inv("credited", 0)
    assert refund(books_close(world, D3)) == 70_000


# --- many events in one day ------------------------------------------------------------------


def test_many_events_in_one_day(world):
    """On D1: a direct payment of 250.00, a credit note of 100.00, a partial reversal of 50.00,
    the corrections, the agency's partly_paid 300.00, its payout, and a 1 øre payment. Owed:
    1 000.00 - 250.00 + 50.00 - 100.00 - 300.00 - 0.01 = 399.99."""
    open_cases(world.engine, {A: 100_000, B: 50_000})
    pay(world, D1, A, 25_000)
    world.adjustment(A, "credit_note", 10_000, D1)
    pay(world, D1, A, -5_000)
    out = world.corrections(D1)
    assert out["corrections"] == 3 and out["amount"] == 25_000 - 5_000 + 10_000
    close(world, D1, A, "partly_paid", 30_000, 40_000)
    close(world, D1, B, "paid", 50_000, 0)
    payout(world, D1, A, 30_000, paid_on=D1)
    if world.mode == "bank":
        payout(world, D1, B, 50_000, paid_on=D1)
    else:
        payout(world, D1, B, 50_000, paid_on=D1)
    pay(world, D1, A, 1)
    world.corrections(D1)
    assert world.invoice(A) == inv("at_collection", 39_999)
    assert world.invoice(B) == inv("paid", 0)
    report = books_close(world, D1)
    assert refund(report) == 0
    close(world, D2, A, "paid", 69_999, 0)
    if world.mode == "bank":
        assert world.invoice(A) == inv("payout_pending", 39_999)
        payout(world, D3, A, 39_999, paid_on=D2)
    else:
        payout(world, D3, A, 39_999, paid_on=D2)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D3)) == 0


# --- more orders --------------------------------------------------------------------------------


def test_write_off_after_collection_ended(world):
    """The agency closes A as closed, 300.00 collected (paid out), 700.00 owed: collection
    ended, a person decides: writes the 700.00 off. Nothing owed: the invoice is done ('paid'
    per the ERP contract, nothing left to pay), once the pipeline next runs."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "closed", 30_000, 70_000)
    payout(world, D2, A, 30_000, paid_on=D1)
    assert world.invoice(A) == inv("collection_ended", 70_000)
    world.adjustment(A, "write_off", 70_000, D3)
    world.corrections(D3)
    pay(world, D3, B, 5)  # any bank file of the day (B has no invoice: unmatched)
    assert world.invoice(A)["remaining"] == 0
    books_close(world, D3)
    assert world.invoice(A) == inv("paid", 0)


def test_direct_payment_exactly_the_rest_on_an_ended_case(world):
    """Collection ended with 700.00 owed (300.00 collected, paid out); the debtor then pays
    exactly 700.00 to the creditor: paid, nothing to refund."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "closed", 30_000, 70_000)
    payout(world, D2, A, 30_000, paid_on=D1)
    pay(world, D3, A, 70_000)
    assert world.invoice(A) == inv("paid", 0)
    world.corrections(D3)
    assert refund(books_close(world, D3)) == 0


def test_agency_payout_reversed_by_the_bank(world):
    """The agency closes A as paid and pays 1 000.00; the bank then reverses that payout
    (-1 000.00 from the agency's account): the money has not arrived; the invoice owes it
    until the agency pays again (bank: payout_pending 1 000.00; settlement: booked at the
    closure, the interim account holds it)."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "paid", 100_000, 0)
    payout(world, D2, A, 100_000, paid_on=D1)
    ref = kid(A) if world.mode == "bank" else "91234"
    world.bank_file(D3, [{"reference": ref, "amount": -100_000, "from_agency": True},
                         FILLER])  # fmt: skip
    if world.mode == "bank":
        assert world.invoice(A) == inv("payout_pending", 100_000)
    else:
        assert world.invoice(A) == inv("paid", 0)
    books_close(world, D3)


def test_credit_note_while_payout_pending(world):
    """Closed with 300.00 collected and 700.00 left; the creditor credits the 700.00 before the
    payout arrives; then the payout: paid, nothing to refund."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "closed", 30_000, 70_000)
    world.adjustment(A, "credit_note", 70_000, D2)
    world.corrections(D2)
    books_close(world, D2)
    payout(world, D3, A, 30_000, paid_on=D1)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D3)) == 0


def test_rejected_after_a_direct_payment_then_paid_in_full(world):
    """The debtor pays 400.00 directly; the agency rejects the case: the invoice is the
    creditor's again, open with 600.00; the debtor pays the 600.00: paid."""
    from tests.inkasso.money.world import receipt_rejecting

    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 40_000)
    receipt_rejecting(world, D1, A)
    assert world.invoice(A) == inv("open", 60_000)
    books_close(world, D1)
    pay(world, D2, A, 60_000)
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D2)
    close(world, D3, A, "paid", 100_000, 0)  # a closure after the rejection: ignored
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D3)


def test_collected_after_closure_on_a_settlement_invoice_already_paid_directly(world):
    """The agency closes A as closed (0 collected, 1 000.00 left); the debtor pays the creditor
    1 000.00 (paid); later the agency says it collected 1 000.00 after closing: 1 000.00 paid
    twice, a refund; the invoice stays paid at 0."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "closed", 0, 100_000)
    assert world.invoice(A) == inv("collection_ended", 100_000)
    pay(world, D2, A, 100_000)
    world.corrections(D2)
    assert world.invoice(A) == inv("paid", 0)
    close(world, D3, A, "closed", 100_000, 0)
    bank = world.mode == "bank"
    books_close(world, D3)
    if bank:
        payout(world, D4, A, 100_000, paid_on=D3)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D4)) == 100_000


def test_partial_payout_before_and_rest_after_the_closure(world):
    """Agency pays 400.00 before its closure (paid, 1 000.00 collected) and 600.00 after."""
    open_cases(world.engine, {A: 100_000})
    payout(world, D1, A, 40_000, paid_on=D1 - timedelta(days=1))
    close(world, D1, A, "paid", 100_000, 0)
    if world.mode == "bank":
        assert world.invoice(A) == inv("payout_pending", 60_000)
    books_close(world, D1)
    payout(world, D2, A, 60_000, paid_on=D1)
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D2)


def test_unreported_direct_payment_then_a_settled_collection_then_its_reversal(world):
    """The debtor pays 700.00 directly; before the agency hears of it, it reports 500.00
    collected (partly paid): 200.00 paid beyond the claim. Then the bank reverses the
    700.00: 500.00 owed (1 000.00 - 500.00 collected), nothing to refund."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 70_000)
    close(world, D1, A, "partly_paid", 50_000, 50_000)
    payout(world, D2, A, 50_000, paid_on=D1)
    assert world.invoice(A) == inv("at_collection", 0)
    world.corrections(D2)
    assert refund(books_close(world, D2)) == 20_000
    pay(world, D3, A, -70_000)
    world.corrections(D3)
    assert world.invoice(A) == inv("at_collection", 50_000)
    assert refund(books_close(world, D3)) == 0


def test_kid_payout_and_direct_payment_in_the_same_bank_file(world):
    """The agency closes A as paid (1 000.00); the next bank file holds both the agency's
    payout and the debtor's own 1 000.00 by A's KID: paid, 1 000.00 to refund, listed once
    in the mail; the bank then reverses the debtor's payment: nothing to refund."""
    from tests.inkasso.money.world import mail

    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "paid", 100_000, 0)
    ref = kid(A) if world.mode == "bank" else "91234"
    world.bank_file(D2, [{"reference": ref, "amount": 100_000, "from_agency": True, "paid_on": D1},
                         {"reference": kid(A), "amount": 100_000}])  # fmt: skip
    assert world.invoice(A) == inv("paid", 0)
    world.corrections(D2)
    report = books_close(world, D2)
    assert refund(report) == 100_000
    m, body = mail(world, D2)
    beyond = [x for a in m.agencies for x in a.beyond_claim]
    after = [x for a in m.agencies for x in a.after_closure if x["refund_amount"]]
    assert len(beyond) + len(after) == 1, (beyond, after)
    pay(world, D3, A, -100_000)
    world.corrections(D3)
    assert world.invoice(A) == inv("paid", 0)
    assert refund(books_close(world, D3)) == 0
    m, _ = mail(world, D3)
    assert not [x for a in m.agencies for x in a.beyond_claim]


def test_recall_after_partly_paid_and_the_agency_collected_more_meanwhile(world):
    """partly_paid 300.00 (paid out); the creditor recalls the 700.00 left (reported); the
    agency had collected 200.00 more meanwhile and closes as recalled with 500.00: the 200.00
    is beyond the claim, to refund; the invoice credited at 0."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "partly_paid", 30_000, 70_000)
    payout(world, D2, A, 30_000, paid_on=D1)
    world.adjustment(A, "recall", 70_000, D2)
    world.corrections(D2)
    close(world, D3, A, "recalled", 50_000, 0)
    payout(world, D4, A, 20_000, paid_on=D3)
    assert world.invoice(A) == inv("credited", 0)
    assert refund(books_close(world, D4)) == 20_000


def test_more_collected_after_closing_with_a_partly_paid_code(world):
    """Closed with 300.00 collected (700.00 left, paid out); a later file says partly_paid with
    500.00 collected: the case stays closed, 200.00 more collected: 500.00 owed once its
    payout is in, collection ended."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "closed", 30_000, 70_000)
    payout(world, D2, A, 30_000, paid_on=D1)
    close(world, D3, A, "partly_paid", 50_000, 50_000)
    if world.mode == "bank":
        assert world.invoice(A) == inv("payout_pending", 70_000)
    books_close(world, D3)
    payout(world, D4, A, 20_000, paid_on=D3)
    assert world.invoice(A) == inv("collection_ended", 50_000)
    report = books_close(world, D4)
    assert report.totals["SEK"]["collected"] == 50_000


def test_two_closures_of_one_case_on_one_day_collected_goes_up(world):
    """D1: closed with 600.00 collected, 400.00 left; a second file of D1: paid, 1 000.00."""
    open_cases(world.engine, {A: 100_000})
    close(world, D1, A, "closed", 60_000, 40_000)
    close(world, D1, A, "paid", 100_000, 0)
    bank = world.mode == "bank"
    assert world.invoice(A) == (inv("payout_pending", 100_000) if bank else inv("paid", 0))
    books_close(world, D1)
    payout(world, D2, A, 100_000, paid_on=D1)
    assert world.invoice(A) == inv("paid", 0)
    books_close(world, D2)


def test_payment_and_its_reversal_before_the_corrections_run(world):
    """400.00 paid and reversed in two bank files of D1, before the corrections: the agency is
    told nothing or +400.00/-400.00 (net 0); the claim is 1 000.00."""
    open_cases(world.engine, {A: 100_000})
    pay(world, D1, A, 40_000)
    pay(world, D1, A, -40_000)
    out = world.corrections(D1)
    assert out["amount"] == 0
    assert world.invoice(A) == inv("at_collection", 100_000)
    books_close(world, D1)
