"""Money paid on a credited invoice: the bank import's booking skips no invoice's money.

An invoice is 'credited' when a credit note or a recall took all of it off (the ERP's own
status, or the pipeline's once a recalled case ended with nothing left). A debtor who pays it
anyway has over-paid: a refund for the finance team, in the day's mail and in the money check,
the invoice staying 'credited'. A bank reversal of money on it gives back what it took: a
refund no longer due, or money owed again (a payment made before the credit note). The money
check closes after every step. Both booking modes, SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import insert, update

from inkasso.db.schema import erp_invoice
from tests.inkasso.money.world import (
    CLIENT,
    SENT,
    books_close,
    kid,
    mail,
    new_world,
    open_cases,
    pay,
)

D1, D2, D3, D4, D5 = (SENT + timedelta(days=n) for n in (3, 4, 5, 6, 7))
A, B = 501, 502  # A has a case at collection; B is an invoice never sent to collection


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def recalled_to_credited(world, invoice_id: int, day) -> None:
    """The creditor recalls what is left of the invoice at collection; the agency closes the
    case as recalled: the invoice is 'credited' at zero."""
    left = world.invoice(invoice_id)["remaining"]
    world.adjustment(invoice_id, "recall", left, day)
    world.corrections(day)
    world.closure(day, [{"case_id": invoice_id, "status": "recalled", "collected": 0,
                         "remaining": 0}])  # fmt: skip
    assert world.invoice(invoice_id) == {"status": "credited", "remaining": 0}


def invoice_without_case(world, invoice_id: int, amount: int, credited: int = 0,
                         status: str | None = None) -> None:  # fmt: skip
    """An ordinary invoice of the world's customer, never sent to collection; the ERP credits
    ``credited`` of it (a credit note), and gives it ``status`` (default: 'credited' when
    nothing is left, else 'open')."""
    with world.engine.begin() as conn:
        conn.execute(
            insert(erp_invoice).values(
                invoice_id=invoice_id, client_id=CLIENT, customer_id=1,
                invoice_no=str(10_000_000 + invoice_id), invoice_date=SENT,
                due_date=SENT + timedelta(days=30), currency="SEK", original_amount=amount,
                remaining_amount=amount, kid=kid(invoice_id), status="open",
            )
        )  # fmt: skip
    if credited:
        world.adjustment(invoice_id, "credit_note", credited, SENT)
    status = status or ("credited" if credited >= amount else "open")
    with world.engine.begin() as conn:
        conn.execute(
            update(erp_invoice).where(erp_invoice.c.invoice_id == invoice_id).values(status=status)
        )


def refunds_in_mail(report) -> list[tuple[str, int, int]]:
    """Every line of the day's mail that counts money to refund (or no longer to refund):
    (invoice number, amount of the event, amount to refund)."""
    rows = [x for a in report.agencies for x in a.after_closure]
    rows += report.refunds
    return [(x["invoice_no"], int(x["amount"]), int(x["refund_amount"])) for x in rows
            if x["refund_amount"]]  # fmt: skip


def refund_listed(check, invoice_id: int, amount: str) -> bool:
    """The money check lists the invoice's refund of ``amount`` (as format_money writes it)."""
    no = str(10_000_000 + invoice_id)
    return any(no in item and f"{amount} SEK received beyond" in item for item in check.listed)


def test_a_payment_on_an_invoice_credited_by_a_recall_is_a_refund(world):
    """A was recalled in full and its case ended: 'credited'. The debtor pays 200.00 by its KID
    anyway: recorded, a refund to handle in the day's mail and the money check, A stays
    'credited' at zero."""
    open_cases(world.engine, {A: 100_000})
    recalled_to_credited(world, A, D1)
    pay(world, D2, A, 20_000)
    world.corrections(D2)
    assert world.invoice(A) == {"status": "credited", "remaining": 0}
    check = books_close(world, D2)
    assert refund_listed(check, A, "200,00")
    report, body = mail(world, D2)
    assert refunds_in_mail(report) == [(str(10_000_000 + A), 20_000, 20_000)]
    assert any("refund" in line for line in report.attention)
    assert "200,00" in body


def test_an_invoice_the_erp_credited_paid_by_its_kid_is_a_refund(world):
    """B was never sent to collection; the ERP credited all of it. The debtor pays 1 000.00 by
    its KID: a refund to handle, in the mail and the money check; B stays 'credited'."""
    open_cases(world.engine, {A: 100_000})
    invoice_without_case(world, B, 100_000, credited=100_000)
    pay(world, D1, B, 100_000)
    assert world.invoice(B) == {"status": "credited", "remaining": 0}
    check = books_close(world, D1)
    assert refund_listed(check, B, "1 000,00")
    report, body = mail(world, D1)
    assert refunds_in_mail(report) == [(str(10_000_000 + B), 100_000, 100_000)]
    assert any("refund" in line for line in report.attention)
    assert "1 000,00" in body


def test_a_partial_credit_then_a_payment_beyond_what_remains(world):
    """A at collection owes 1 000.00; the creditor credits 300.00 (reported), then recalls the
    700.00 left: 'credited'. The debtor pays the 1 000.00 of the original invoice: all of it a
    refund. B (never sent) is credited 300.00 by the ERP and paid 1 000.00: 300.00 to refund,
    B 'paid'."""
    open_cases(world.engine, {A: 100_000})
    invoice_without_case(world, B, 100_000, credited=30_000)
    world.adjustment(A, "credit_note", 30_000, D1)
    world.corrections(D1)
    recalled_to_credited(world, A, D2)
    world.bank_file(
        D3, [{"reference": kid(A), "amount": 100_000}, {"reference": kid(B), "amount": 100_000}]
    )
    world.corrections(D3)
    assert world.invoice(A) == {"status": "credited", "remaining": 0}
    assert world.invoice(B) == {"status": "paid", "remaining": 0}
    check = books_close(world, D3)
    assert refund_listed(check, A, "1 000,00") and refund_listed(check, B, "300,00")
    report, _ = mail(world, D3)
    assert sorted(refunds_in_mail(report)) == [
        (str(10_000_000 + A), 100_000, 100_000),
        (str(10_000_000 + B), 100_000, 30_000),
    ]


@pytest.mark.parametrize("with_case", [True, False], ids=["recalled", "erp_credited"])
def test_a_payment_on_a_credited_invoice_then_its_reversal(world, with_case):
    """The debtor pays 200.00 on a credited invoice (a refund), the bank reverses it the next
    day: no refund any more (the mail says so), the invoice stays 'credited' at zero, the books
    close on both days."""
    open_cases(world.engine, {A: 100_000})
    if with_case:
        invoice = A
        recalled_to_credited(world, A, D1)
    else:
        invoice = B
        invoice_without_case(world, B, 100_000, credited=100_000)
    pay(world, D2, invoice, 20_000)
    world.corrections(D2)
    assert refund_listed(books_close(world, D2), invoice, "200,00")
    pay(world, D3, invoice, -20_000)
    world.corrections(D3)
    assert world.invoice(invoice) == {"status": "credited", "remaining": 0}
    check = books_close(world, D3)
    assert not any("received beyond" in item for item in check.listed)
    report, _ = mail(world, D3)
    assert refunds_in_mail(report) == [(str(10_000_000 + invoice), -20_000, -20_000)]


@pytest.mark.parametrize("with_case", [True, False], ids=["recalled", "erp_credited"])
def test_a_reversal_of_a_payment_made_before_the_credit(world, with_case):
    """The debtor paid 400.00 of 1 000.00; the creditor then took the 600.00 left off (a recall
    ending the case, or the ERP's credit note): 'credited'. The bank reverses the 400.00: the
    debtor owes 400.00 again. The invoice must show it (never left at zero, money lost from
    view), out of 'credited', and the books close."""
    open_cases(world.engine, {A: 100_000})
    if with_case:
        invoice = A
        pay(world, D1, A, 40_000)
        world.corrections(D1)
        recalled_to_credited(world, A, D2)
    else:
        invoice = B
        invoice_without_case(world, B, 100_000)
        pay(world, D1, B, 40_000)
        world.adjustment(B, "credit_note", 60_000, D2)
        with world.engine.begin() as conn:
            conn.execute(
                update(erp_invoice).where(erp_invoice.c.invoice_id == B).values(status="credited")
            )
    books_close(world, D2)
    pay(world, D3, invoice, -40_000)
    world.corrections(D3)
    after = world.invoice(invoice)
    assert after["remaining"] == 40_000
    if with_case:  # an ended case's invoice owing money: never plain 'open' (README)
        assert after["status"] not in ("open", "paid", "credited", "at_collection")
    else:
        assert after["status"] == "open"
    check = books_close(world, D3)
    assert not any("received beyond" in item for item in check.listed)


# every invoice status the ERP contract names (README) and the pipeline gives (schema.py), at
# zero on an invoice with no case (the statuses of a case's invoice are the tests above)
@pytest.mark.parametrize("status", ["paid", "credited", "open"])
def test_an_over_payment_on_an_invoice_at_zero_in_any_status(world, status):
    """An invoice never sent to collection, at zero in ``status``: a payment on it is a refund
    to handle (mail and money check) and leaves its status alone ('open' at zero: the ERP's
    'paid')."""
    open_cases(world.engine, {A: 100_000})
    invoice_without_case(world, B, 100_000, credited=100_000, status=status)
    pay(world, D1, B, 15_000)
    assert world.invoice(B) == {
        "status": "paid" if status == "open" else status,
        "remaining": 0,
    }
    check = books_close(world, D1)
    assert refund_listed(check, B, "150,00")
    report, _ = mail(world, D1)
    assert refunds_in_mail(report) == [(str(10_000_000 + B), 15_000, 15_000)]
