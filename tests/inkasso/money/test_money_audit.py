"""An audit of a case's money across its whole life, scenarios not covered elsewhere: money in a
currency the client does not book, a closure after a closure, and the project's own check
(``inkasso.money.check``) against a hand computation after every step, in both booking modes, on
SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert, text, update

from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.importer import import_bank_file
from inkasso.bank.model import payments_frame
from inkasso.db.schema import ink_agreement, ink_case, ink_file_log
from inkasso.formats import load_layout, load_profile
from inkasso.report.gather import gather_client_day
from inkasso.report.render import render_report
from tests.inkasso.money.world import (
    AGENCY_ACCOUNT,
    CLIENT,
    CUSTOMER_NO,
    SENT,
    books_close,
    kid,
    new_world,
    open_cases,
)

D1, D2, D3, D4 = (SENT + timedelta(days=n) for n in (3, 4, 5, 6))
A, B = 301, 302


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def bgmax_of(day, payments: list[dict]) -> bytes:
    """A BgMax file: payments (reference, amount, currency, from_agency) paid the day before."""
    rows = [
        {
            "payment_ref": f"Q{n}",
            "payer_account": AGENCY_ACCOUNT if p.get("from_agency") else "1234567",
            "reference": p["reference"],
            "amount": p["amount"],
            "payment_date": day - timedelta(days=1),
            "payee_account": "58410000010098",
            "currency": p.get("currency", "SEK"),
            "payer_name": "",
            "line": 0,
        }
        for n, p in enumerate(payments, start=1)
    ]
    return write_bgmax(
        payments_frame(rows), payee_bankgiro="9912346", written_at=datetime(2026, 11, 2, 3)
    )


def test_a_deposit_in_another_currency_is_never_booked_on_the_clients_invoices(world):
    """Bankgirot's own example file (BgMaxfil4.txt) has a EUR deposit beside its SEK ones: euro
    cents booked as öre on a Swedish invoice would be wrong money. The file waits for a person,
    nothing of it is booked."""
    open_cases(world.engine, {A: 100_000})
    data = bgmax_of(
        D1,
        [
            {"reference": kid(A), "amount": 5_000},  # the debtor pays 50.00 SEK
            {"reference": kid(A), "amount": 4_000, "currency": "EUR"},  # and 40.00 EUR
        ],
    )
    result = import_bank_file(
        world.engine, CLIENT, "BGMAX.eur.txt", data,
        business_date=D1, base=world.base, now=world.tick(), run_id="test",
    )  # fmt: skip
    assert result["status"] == "quarantined", result
    assert result["field"] == "currency" and "EUR" in result["error"]
    assert world.invoice(A) == {"status": "at_collection", "remaining": 100_000}
    assert world.scalar("SELECT COUNT(*) FROM erp_payment") == 0
    books_close(world, D1)


def test_money_collected_after_a_closure_reaches_the_invoice(world):
    """The agency closes A as uncollectible with part collected, then collects the rest after
    all and says so in a later closure: that money is the debtor's, paid; it must reach the
    invoice (settlement: booked; bank: the KID payout matches), never be ignored while the
    invoice says the debtor still owes it."""
    open_cases(world.engine, {A: 100_000})
    world.closure(
        D1, [{"case_id": A, "status": "uncollectible", "collected": 20_000, "remaining": 80_000}]
    )
    world.bank_file(
        D2,
        [{"reference": kid(A) if world.mode == "bank" else "91235", "amount": 20_000,
          "paid_on": D1, "from_agency": True}],
    )  # fmt: skip
    assert world.invoice(A) == {"status": "collection_ended", "remaining": 80_000}
    books_close(world, D2)

    world.closure(D3, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    if world.mode == "settlement":
        assert world.invoice(A) == {"status": "paid", "remaining": 0}
    else:  # the closure leaves the ledger to the KID payout, which is on its way
        assert world.invoice(A) == {"status": "payout_pending", "remaining": 80_000}
    books_close(world, D3)
    # the rerun of the same file under another name (or the same closure again) books nothing
    world.closure(D3, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    assert world.scalar("SELECT SUM(amount) FROM ink_collection") == 100_000
    kinds = world.scalar(
        "SELECT COUNT(*) FROM ink_case_event WHERE kind = 'collected_after_closure'"
        " AND detail LIKE 'after the case was closed as uncollectible: collected 100000%'"
    )
    assert kinds == 1
    assert world.scalar("SELECT status FROM ink_case WHERE case_id = :c", c=A) == "paid"

    payout = {"amount": 80_000, "paid_on": D3, "from_agency": True}
    payout["reference"] = kid(A) if world.mode == "bank" else "91236"
    world.bank_file(D4, [payout])
    assert world.invoice(A) == {"status": "paid", "remaining": 0}
    report = books_close(world, D4)
    assert report.totals["SEK"]["collected"] == 100_000
    assert report.totals["SEK"]["open"] == 0 and report.totals["SEK"]["in_transit"] == 0
    assert world.scalar("SELECT COUNT(*) FROM ink_payout WHERE reconciliation = 'matched'") == 2
    if world.mode == "settlement":
        assert (
            world.scalar(
                "SELECT SUM(debit) - SUM(credit) FROM erp_journal_line WHERE account = '1684'"
            )
            == 0
        )


def test_a_closure_whose_collected_amount_goes_down_is_quarantined_and_books_nothing(world):
    """The agency said 300.00 collected on an open case, then 200.00: which is true is for a
    person; the file is quarantined, the booked 300.00 stays, nothing is booked back or twice."""
    open_cases(world.engine, {A: 100_000})
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    spec = load_profile("lowell").files["closure"]
    codes = {v: k for k, v in load_profile("lowell").closure_statuses.items()}
    frame = pd.DataFrame(
        [{"case_id": A, "agency_case_ref": f"L{A}", "closure_status": codes["partly_paid"],
          "collected_amount": 20_000, "remaining_amount": 80_000, "closure_date": D2}]
    )  # fmt: skip
    data = load_layout(spec.layout).write({"customer_no": CUSTOMER_NO, "file_date": D2}, frame)
    with pytest.raises(AssertionError, match="quarantined"):
        world.receive(
            D2, "closure", spec.file_name(CUSTOMER_NO, datetime(2026, 11, 6, 5, 59)), data
        )
    issue = world.scalar("SELECT reason FROM ink_file_issue WHERE field = 'collected_amount'")
    assert "less than the 30000 reported earlier" in issue
    assert world.scalar("SELECT collected_amount FROM ink_case WHERE case_id = :c", c=A) == 30_000
    assert world.scalar("SELECT SUM(amount) FROM ink_collection") == 30_000
    expected = 70_000 if world.mode == "settlement" else 100_000
    assert world.invoice(A) == {"status": "at_collection", "remaining": expected}
    books_close(world, D2)


def test_a_payout_by_an_unknown_kid_is_listed_and_books_nothing_on_an_invoice(world):
    """The agency pays 300.00 with a reference that is no invoice's KID: not booked on any
    invoice nor as a direct payment; the payout is listed as paying no collection, the case's
    collection as still waiting for its payout; the books close."""
    open_cases(world.engine, {A: 100_000})
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    world.bank_file(
        D4, [{"reference": "999999999", "amount": 30_000, "paid_on": D1, "from_agency": True}]
    )
    assert world.scalar("SELECT COUNT(*) FROM erp_payment WHERE invoice_id IS NOT NULL") == (
        1 if world.mode == "settlement" else 0  # the settlement booking of the closure
    )
    report = books_close(world, D4)
    if world.mode == "bank":  # per case: this payout pays no case, A's collection waits
        assert world.invoice(A) == {"status": "at_collection", "remaining": 100_000}
        assert any("no collection by the agency to pay" in item for item in report.listed)
        assert any(f"case {A}, closures" in item for item in report.listed), report.listed
        assert report.totals["SEK"]["in_transit"] == 30_000
    else:  # a lump: it pays the agreement's collections, whatever its reference
        assert world.scalar("SELECT reconciliation FROM ink_payout") == "matched"
        assert (
            world.scalar(
                "SELECT SUM(debit) - SUM(credit) FROM erp_journal_line WHERE account = '1684'"
            )
            == 0
        )


def test_two_settlement_agreements_of_a_client_share_the_interim_account(erp_engine, tmp_path):
    """A client that moved its settlement-mode collection to another agency keeps the old
    agreement (inactive: its payouts may still arrive); both book against the default interim
    account 1684, so its balance is explained by both agreements' collections and payouts
    together, never judged per agreement against the sum of the two."""
    world = new_world(erp_engine, tmp_path / "files", "settlement")
    open_cases(world.engine, {A: 100_000})
    with world.engine.begin() as conn:
        conn.execute(
            insert(ink_agreement).values(
                agreement_id="svea_old", client_id=CLIENT, agency="svea", country="SE",
                customer_no_at_agency="1", agency_bank_account="1111111", mode="sftp",
                sftp_conn_id="c_svea", booking_mode="settlement", active=False,
            )
        )  # fmt: skip
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    report = books_close(world, D1)
    assert any("1684 at 300,00" in item for item in report.listed), report.listed


def test_a_settlement_beyond_what_is_left_keeps_an_open_case_at_collection(world):
    """The debtor pays the creditor 800.00 directly while the agency, not yet told, collects
    300.00 of the 1 000.00 and goes on (partly paid): the invoice is paid beyond its claim, a
    refund to handle, but its case is still open at the agency, so it stays at collection."""
    open_cases(world.engine, {A: 100_000})
    world.bank_file(D1, [{"reference": kid(A), "amount": 80_000}])
    assert world.invoice(A) == {"status": "at_collection", "remaining": 20_000}
    world.corrections(D1)  # the direct payment is reported to the agency
    world.closure(
        D2, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    expected = 0 if world.mode == "settlement" else 20_000  # bank: the payout is on its way
    assert world.invoice(A) == {"status": "at_collection", "remaining": expected}
    world.bank_file(
        D3,
        [{"reference": kid(A) if world.mode == "bank" else "91237", "amount": 30_000,
          "paid_on": D2, "from_agency": True}],
    )  # fmt: skip
    assert world.invoice(A) == {"status": "at_collection", "remaining": 0}
    report = books_close(world, D3)
    assert report.totals["SEK"]["refund_due"] == 10_000
    assert any("100,00 SEK received beyond the claim" in item for item in report.listed)


def test_money_collected_after_a_recall_is_a_refund_and_the_invoice_stays_credited(world):
    """The creditor recalls A (credit loss for all of it); the agency had collected nothing
    then, but a payment reaches it afterwards and it says so: the invoice stays credited, the
    100.00 is money to pay back (or to take off the credit loss), listed, never lost."""
    open_cases(world.engine, {A: 100_000})
    world.adjustment(A, "recall", 100_000, D1)
    world.corrections(D1)
    world.closure(D1, [{"case_id": A, "status": "recalled", "collected": 0, "remaining": 0}])
    assert world.invoice(A) == {"status": "credited", "remaining": 0}
    world.closure(D2, [{"case_id": A, "status": "recalled", "collected": 10_000, "remaining": 0}])
    world.bank_file(
        D3,
        [{"reference": kid(A) if world.mode == "bank" else "91238", "amount": 10_000,
          "paid_on": D2, "from_agency": True}],
    )  # fmt: skip
    assert world.invoice(A) == {"status": "credited", "remaining": 0}
    report = books_close(world, D3)
    assert report.totals["SEK"]["refund_due"] == 10_000
    assert world.scalar("SELECT reconciliation FROM ink_payout") == "matched"


def test_a_payout_bigger_than_the_collection_is_listed_not_lost(world):
    """The agency collected 300.00 and pays 400.00: the 400.00 arrived and is booked where the
    booking mode books payouts; the 100.00 too much is the agency's, listed for a person (the
    payout differs), and the invoice shows what the debtor still owes: 700.00."""
    open_cases(world.engine, {A: 100_000})
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    world.bank_file(
        D2,
        [{"reference": kid(A) if world.mode == "bank" else "91239", "amount": 40_000,
          "paid_on": D1, "from_agency": True}],
    )  # fmt: skip
    report = books_close(world, D2)
    assert world.scalar("SELECT reconciliation FROM ink_payout") == "differs"
    assert any("difference 100,00" in item for item in report.listed), report.listed
    if world.mode == "bank":  # booked on the invoice by its KID: 600.00 left, 700.00 owed...
        assert world.invoice(A) == {"status": "at_collection", "remaining": 60_000}
        assert any("more than the 300,00 SEK it reports collected" in i for i in report.listed)
    else:  # ...or against the interim account, which now owes the agency 100.00
        assert world.invoice(A) == {"status": "at_collection", "remaining": 70_000}
        assert (
            world.scalar(
                "SELECT SUM(debit) - SUM(credit) FROM erp_journal_line WHERE account = '1684'"
            )
            == -10_000
        )


@pytest.mark.parametrize(
    ("path", "currency"),
    [("ocr-giro/ocr_giro_transactions.txt", "NOK"), ("bgmax/BgMaxfil4.txt", "EUR")],
)
def test_the_banks_own_files_in_another_currency_book_nothing(world, reference_dir, path, currency):
    """Nets' OCR giro example (NOK) reaching the Swedish client's drop, Bankgirot's example with
    a EUR deposit after its SEK ones: never kroner or euro booked as kronor on SEK invoices, nor
    summed with them; quarantined with the line, nothing of the file booked."""
    open_cases(world.engine, {A: 100_000})
    data = (reference_dir / path).read_bytes()
    result = import_bank_file(
        world.engine, CLIENT, path.split("/")[1], data,
        business_date=D1, base=world.base, now=world.tick(), run_id="test",
    )  # fmt: skip
    assert result["status"] == "quarantined", result
    assert result["field"] == "currency" and currency in result["error"] and result["line"] > 1
    assert world.scalar("SELECT COUNT(*) FROM erp_payment") == 0
    report = books_close(world, D1)
    assert set(report.totals) == {"SEK"}


def old_agreement_paid_from_the_same_account(world, case_id: int):
    """The client's old Lowell agreement (inactive, interim account 1685), paid from the same
    agency account as the world's, holding the case of invoice ``case_id``; its world."""
    old = replace(world, agreement_id="lowell_old", customer_no="55081", interim_account="1685")
    with world.engine.begin() as conn:
        conn.execute(
            insert(ink_agreement).values(
                agreement_id=old.agreement_id, client_id=CLIENT, agency="lowell", country="SE",
                customer_no_at_agency=old.customer_no, agency_bank_account=AGENCY_ACCOUNT,
                mode="sftp", sftp_conn_id="c_lowell", booking_mode=world.mode,
                interim_account=old.interim_account, active=False,
            )
        )  # fmt: skip
        sent_in = conn.execute(
            insert(ink_file_log).values(
                client_id=CLIENT, agreement_id=old.agreement_id, direction="out",
                kind="new_cases", file_name="LS0", business_date=SENT, status="delivered",
                path="x", sha256="x", size_bytes=1, record_count=1, amount_total=100_000,
                created_at=world.clock,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            update(ink_case)
            .where(ink_case.c.case_id == case_id)
            .values(agreement_id=old.agreement_id, file_id=sent_in)
        )
    return old


def test_two_agreements_paid_from_one_agency_account_each_get_their_own_payouts(world):
    """The client's old Lowell agreement (inactive, its own interim account) and the new one
    are both paid from Lowell's one bank account. Lowell pays A (the old agreement's case) and
    B (the new one's) by KID in one file: each payout is the agreement's whose case the invoice
    is, booked against that agreement's interim account and reconciled with that agreement's
    collection, never both given to whichever agreement was read last."""
    open_cases(world.engine, {A: 100_000, B: 100_000})
    old = old_agreement_paid_from_the_same_account(world, A)
    old.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    world.clock = old.clock
    world.closure(
        D1, [{"case_id": B, "status": "partly_paid", "collected": 40_000, "remaining": 60_000}]
    )
    world.bank_file(
        D2,
        [{"reference": kid(A), "amount": 30_000, "paid_on": D1, "from_agency": True},
         {"reference": kid(B), "amount": 40_000, "paid_on": D1, "from_agency": True}],
    )  # fmt: skip
    report = books_close(world, D2)  # reconciles the payouts
    with world.engine.connect() as conn:
        payouts = conn.execute(
            text("SELECT amount, agreement_id, case_id, reconciliation FROM ink_payout"
                 " ORDER BY amount")
        ).all()  # fmt: skip
    per_case = world.mode == "bank"  # settlement: lump payouts, of no case
    assert [tuple(p) for p in payouts] == [
        (30_000, old.agreement_id, A if per_case else None, "matched"),
        (40_000, world.agreement_id, B if per_case else None, "matched"),
    ]
    assert not any("differs" in item or "no collection" in item for item in report.listed)
    if world.mode == "bank":
        assert world.invoice(A) == {"status": "at_collection", "remaining": 70_000}
        assert world.invoice(B) == {"status": "at_collection", "remaining": 60_000}
    else:  # each interim account is cleared by its own agreement's payout
        for account in ("1684", "1685"):
            balance = world.scalar(
                "SELECT SUM(debit) - SUM(credit) FROM erp_journal_line WHERE account = :a",
                a=account,
            )
            assert balance == 0, account


def test_a_lump_payout_from_an_account_two_agreements_share_goes_to_the_active_one(world, caplog):
    """Lowell pays 400.00 without a KID from the account both of the client's Lowell agreements
    are paid from: no invoice says whose it is, so it is the active agreement's (whose case B
    collected it), never the old one's because that was read last; and the import says it
    picked."""
    open_cases(world.engine, {A: 100_000, B: 100_000})
    old_agreement_paid_from_the_same_account(world, A)
    world.closure(
        D1, [{"case_id": B, "status": "partly_paid", "collected": 40_000, "remaining": 60_000}]
    )
    result = world.bank_file(
        D2, [{"reference": "91240", "amount": 40_000, "paid_on": D1, "from_agency": True}]
    )
    assert result["payouts_picked"] == 1
    assert "each given to the first of them" in caplog.text
    assert world.scalar("SELECT agreement_id FROM ink_payout") == world.agreement_id
    # the day's mail says so too, under the agreement that got it, in the client's currency
    mail = gather_client_day(world.engine, CLIENT, D2)
    (picked,) = [a for a in mail.agencies if a.payouts_picked.n]
    assert picked.agreement_id == world.agreement_id
    assert (picked.payouts_picked.n, picked.payouts_picked.amount) == (1, 40_000)
    text_body = render_report(mail).text
    assert f"given to {world.agreement_id} by the account alone" in "\n".join(mail.attention)
    assert "no invoice named): 1, 400,00 SEK" in text_body
    report = books_close(world, D2)
    if world.mode == "settlement":  # the lump pays the active agreement's collection
        assert world.scalar("SELECT reconciliation FROM ink_payout") == "matched"
        assert (
            world.scalar(
                "SELECT SUM(debit) - SUM(credit) FROM erp_journal_line WHERE account = '1684'"
            )
            == 0
        )
    else:  # bank mode pays per case: a payout by no KID pays none, listed for a person
        assert any("no collection by the agency to pay" in item for item in report.listed)


def test_the_bank_import_task_returns_the_picked_payouts_for_the_report(world, tmp_path):
    """The lump payout given to an agreement by its account alone is counted in what the bank
    import task returns (its XCom) and in the day's totals, not only per file, so the report can
    show it."""
    from inkasso.bank.drops import BankDrop
    from inkasso.bank.importer import import_drop, log_summary

    open_cases(world.engine, {A: 100_000, B: 100_000})
    old_agreement_paid_from_the_same_account(world, A)
    drop = tmp_path / "drop"
    drop.mkdir()
    lump = {"reference": "91240", "amount": 40_000, "from_agency": True}
    (drop / "BGMAX.1.txt").write_bytes(bgmax_of(D2, [lump, lump | {"reference": "91241"}]))
    result = import_drop(
        world.engine, BankDrop(CLIENT, folder=str(drop)),
        business_date=D2, base=world.base, now=world.tick(), run_id="test",
    )  # fmt: skip
    assert [f["status"] for f in result["files"]] == ["applied"]
    assert result["payouts_picked"] == 2
    assert log_summary([result, result])["payouts_picked"] == 4
