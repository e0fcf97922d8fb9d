"""The bank import against a real database (SQLite and PostgreSQL): each file booked once,
broken files quarantined whole, payments matched by KID, agency payouts kept apart, booked
against the interim account and reconciled against the agency's settlements."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import insert, text, update

from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.importer import import_bank_file
from inkasso.bank.model import payments_frame
from inkasso.bank.payouts import reconcile_payouts
from inkasso.db.schema import ink_agreement, ink_case, ink_collection, ink_file_log
from tests.db_helpers import query_frame as rows
from tests.db_helpers import query_one as one
from tests.db_helpers import receive_at_example_accounts

DAY = dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 2, 3, tzinfo=dt.UTC)
SE_CLIENT, SE_AGREEMENT = 4, "lowell_se"


@pytest.fixture
def demo(erp_engine):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    return erp_engine


def run(engine, base, name, data, client_id=SE_CLIENT, day=DAY):
    return import_bank_file(
        engine, client_id, name, data, business_date=day, base=base, now=NOW, run_id="test"
    )


def payment(reference, amount, payer="1234567", ref="P1", on=DAY - dt.timedelta(days=1)):
    return {
        "payment_ref": ref, "payer_account": payer, "reference": reference, "amount": amount,
        "payment_date": on, "payee_account": "58410000010098", "currency": "SEK",
        "payer_name": "", "line": 0,
    }  # fmt: skip


def bgmax(payments) -> bytes:
    return write_bgmax(
        payments_frame(payments), payee_bankgiro="9912346", written_at=dt.datetime(2026, 11, 2, 3)
    )


def close_case(engine, agreement_id, invoice_id, collected, closed):
    """A case of the agreement closed by the agency with ``collected`` øre on ``closed``."""
    with engine.begin() as conn:
        file_id = conn.execute(
            insert(ink_file_log).values(
                client_id=SE_CLIENT, agreement_id=agreement_id, direction="in", kind="closure",
                file_name=f"Avsl_{invoice_id}.txt", business_date=closed, status="applied",
                path="-", sha256=str(invoice_id), size_bytes=1, record_count=1,
                amount_total=collected, created_at=NOW,
            )
        ).inserted_primary_key[0]  # fmt: skip
        case_id = conn.execute(
            insert(ink_case).values(
                agreement_id=agreement_id, invoice_id=invoice_id, customer_id=1, file_id=file_id,
                status="paid", is_open=False, original_amount=collected, sent_amount=collected,
                currency="SEK", business_date=closed, opened_at=NOW, collected_amount=collected,
                closed_date=closed,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(  # what the closure's apply records: the agency's settlement to be paid
            insert(ink_collection).values(
                agreement_id=agreement_id, case_id=case_id, invoice_id=invoice_id,
                file_id=file_id, closure_date=closed, amount=collected, created_at=NOW,
            )
        )  # fmt: skip


def invoices(engine, status, n):
    return rows(
        engine,
        "SELECT invoice_id, kid, remaining_amount FROM erp_invoice WHERE client_id = :c "
        "AND status = :s AND remaining_amount > 1000 ORDER BY invoice_id",
        c=SE_CLIENT, s=status,
    ).head(n)  # fmt: skip


def test_payments_are_matched_by_kid_and_lower_what_is_owed(demo, tmp_path):
    open_ = invoices(demo, "open", 2)
    with demo.begin() as conn:  # one invoice goes to collection
        conn.execute(text("UPDATE erp_invoice SET status = 'at_collection' WHERE invoice_id = :i"),
                     {"i": int(open_.invoice_id[1])})  # fmt: skip
    full, part = open_.to_dict("records")
    data = bgmax(
        [
            payment(full["kid"], full["remaining_amount"], ref="A"),
            payment(part["kid"], 500, ref="B"),
            payment("99999999999", 12_300, ref="C"),
        ]
    )

    result = run(demo, tmp_path, "BGMAX.1.txt", data)

    assert result["status"] == "applied"
    assert (result["direct"], result["direct_at_collection"], result["unmatched"]) == (2, 1, 1)
    paid = rows(demo, "SELECT invoice_id, status, remaining_amount FROM erp_invoice "
                      "WHERE invoice_id IN (:a, :b) ORDER BY invoice_id",
                a=full["invoice_id"], b=part["invoice_id"]).to_dict("records")  # fmt: skip
    assert paid[0]["status"] == "paid" and paid[0]["remaining_amount"] == 0
    # at collection: still at collection (corrections report it), the balance shows the money
    assert paid[1]["status"] == "at_collection"
    assert paid[1]["remaining_amount"] == part["remaining_amount"] - 500
    booked = rows(demo, "SELECT payment_ref, kind, invoice_id, amount FROM erp_payment "
                        "ORDER BY payment_ref")  # fmt: skip
    assert booked["kind"].tolist() == ["direct", "direct", "unmatched"]
    assert booked["invoice_id"].isna().tolist() == [False, False, True]
    assert booked["amount"].tolist() == [full["remaining_amount"], 500, 12_300]
    archived = tmp_path / "inbound" / "bank" / "4" / DAY.isoformat() / "BGMAX.1.txt"
    assert archived.read_bytes() == data

    again = run(demo, tmp_path, "BGMAX.1.txt", data)
    assert again["status"] == "already_imported"
    renamed = run(demo, tmp_path, "BGMAX.1-copy.txt", data)
    assert renamed["status"] == "duplicate" and renamed["same_as"] == "BGMAX.1.txt"
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 3
    assert one(demo, "SELECT remaining_amount FROM erp_invoice WHERE invoice_id = :i",
               i=part["invoice_id"]) == part["remaining_amount"] - 500  # fmt: skip


def test_a_new_file_under_an_old_name_books_only_its_own_payments(demo, tmp_path):
    """Banks reuse file names (one a day, or a counter that wraps): a file with other bytes under
    a name already imported lowers each invoice by its own payments once, never again by the
    earlier file's."""
    first, second = invoices(demo, "open", 2).to_dict("records")
    run(demo, tmp_path, "BGMAX.txt", bgmax([payment(first["kid"], 700, ref="A")]))
    later = bgmax([payment(second["kid"], 300, ref="B", on=DAY)])

    result = run(demo, tmp_path, "BGMAX.txt", later, day=DAY + dt.timedelta(days=1))

    assert result["status"] == "applied" and result["direct"] == 1
    left = rows(demo, "SELECT invoice_id, remaining_amount FROM erp_invoice "
                      "WHERE invoice_id IN (:a, :b) ORDER BY invoice_id",
                a=first["invoice_id"], b=second["invoice_id"])  # fmt: skip
    owed = {first["invoice_id"]: first["remaining_amount"] - 700,
            second["invoice_id"]: second["remaining_amount"] - 300}  # fmt: skip
    assert dict(zip(left.invoice_id, left.remaining_amount, strict=True)) == owed
    assert one(demo, "SELECT SUM(amount) FROM erp_payment") == 1_000


def test_broken_reference_file_is_quarantined_and_nothing_booked(demo, tmp_path, reference_dir):
    data = (reference_dir / "bgmax" / "BgMaxfil4_broken.txt").read_bytes()

    result = run(demo, tmp_path, "BgMaxfil4_broken.txt", data)

    assert result["status"] == "quarantined" and result["line"] == 67
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0
    logged = rows(demo, "SELECT f.status, f.kind, i.line, i.field, i.reason FROM ink_file_log f "
                        "JOIN ink_file_issue i ON i.file_id = f.file_id").to_dict("records")  # fmt: skip
    assert logged == [
        {"status": "quarantined", "kind": "bgmax", "line": 67, "field": "payment_count",
         "reason": logged[0]["reason"]}
    ]  # fmt: skip
    assert "trailer says 8" in logged[0]["reason"]
    assert (tmp_path / "quarantine" / "bank" / "4" / "BgMaxfil4_broken.txt").read_bytes() == data
    assert run(demo, tmp_path, "BgMaxfil4_broken.txt", data)["status"] == "already_imported"


def test_reference_files_book_what_their_control_records_state(demo, tmp_path, reference_dir):
    ocr = (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt").read_bytes()
    result = run(demo, tmp_path, "ocr_giro_transactions.txt", ocr, client_id=1)
    assert (result["status"], result["payments"], result["amount"]) == ("applied", 20, 5_144_900)
    assert result["unmatched"] == 20  # the manual's KIDs are not the demo's invoices

    for name in ("avtalegiro_agreements.txt", "avtalegiro_payment_request.txt"):
        data = (reference_dir / "ocr-giro" / name).read_bytes()
        assert run(demo, tmp_path, name, data, client_id=1)["status"] == "ignored"
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 20
    assert one(demo, "SELECT SUM(amount) FROM erp_payment") == 5_144_900


def test_agency_payout_is_not_a_direct_payment_and_is_booked_and_reconciled(demo, tmp_path):
    account = one(demo, "SELECT agency_bank_account FROM ink_agreement WHERE agreement_id = :a",
                  a=SE_AGREEMENT)  # fmt: skip
    with demo.begin() as conn:
        conn.execute(update(ink_agreement).where(ink_agreement.c.agreement_id == SE_AGREEMENT)
                     .values(booking_mode="settlement"))  # fmt: skip
    settled_day, short_day, early_day = (DAY - dt.timedelta(days=d) for d in (1, 2, 3))
    ids = invoices(demo, "open", 3)["invoice_id"].tolist()
    close_case(demo, SE_AGREEMENT, ids[0], 40_000, settled_day)
    close_case(demo, SE_AGREEMENT, ids[1], 10_000, settled_day)
    close_case(demo, SE_AGREEMENT, ids[2], 25_000, short_day)
    # the payer bankgiro of a BgMax payout is zero-padded: still the agency's account
    data = bgmax(
        [
            payment("", 50_000, payer=f"{account:0>10}", ref="U1", on=settled_day),
            payment("", 20_000, payer=account, ref="U2", on=short_day),
            payment("", 7_000, payer=account, ref="U3", on=early_day),
        ]
    )

    result = run(demo, tmp_path, "BGMAX.2.txt", data)

    assert (result["agency_payout"], result["direct"], result["unmatched"]) == (3, 0, 0)
    assert result["journal_lines"] == 6
    with demo.begin() as conn:
        outcome = reconcile_payouts(conn, [SE_AGREEMENT], DAY)
    assert {k: outcome[k] for k in ("matched", "differs", "missing")} == {
        "matched": 1, "differs": 1, "missing": 1}  # fmt: skip
    payouts = rows(demo, "SELECT payment_date, amount, reconciliation, settled_amount, detail "
                         "FROM ink_payout ORDER BY payment_date DESC")  # fmt: skip
    assert payouts["reconciliation"].tolist() == ["matched", "differs", "missing"]
    assert payouts["settled_amount"].tolist()[:2] == [50_000, 25_000]
    assert "difference -50,00" in payouts["detail"][1]
    journal = rows(demo, "SELECT account, SUM(debit) AS d, SUM(credit) AS c FROM erp_journal_line "
                         "GROUP BY account ORDER BY account")  # fmt: skip
    assert journal.to_dict("records") == [
        {"account": "1684", "d": 0, "c": 77_000}, {"account": "1920", "d": 77_000, "c": 0}]  # fmt: skip

    # reconciliation recomputes: the missing settlement arrives, the payout turns matched
    close_case(demo, SE_AGREEMENT, int(invoices(demo, "open", 4)["invoice_id"].iloc[3]), 7_000,
               early_day)  # fmt: skip
    with demo.begin() as conn:
        again = reconcile_payouts(conn, [SE_AGREEMENT], DAY)
    assert (again["matched"], again["differs"], again["missing"]) == (2, 1, 0)
    assert one(demo, "SELECT COUNT(*) FROM erp_journal_line") == 6
