"""A bank file paid into an account that is not the client's is never booked on its invoices.

A bank file names the account the money went into (OCR giro: the assignment account; BgMax: the
deposit opening's payee bankgiro and the deposit's bank account). A file delivered to the wrong
client's drop would book another creditor's money on this client's invoices, whose KIDs may
collide: it is quarantined whole, naming file, line and field. The client's accounts: its default
bank account and the accounts its agreements have the agencies pay back to. SQLite and
PostgreSQL, the banks' own example files too."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import text, update

from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.model import payments_frame
from inkasso.db.schema import ink_agreement
from tests.db_helpers import EXAMPLE_BANKGIRO, receive_at_example_accounts
from tests.db_helpers import query_one as one
from tests.inkasso.bank.test_bank_import import (
    DAY,
    NOW,
    SE_AGREEMENT,
    SE_CLIENT,
    invoices,
    payment,
    run,
)

NO_CLIENT = 1


@pytest.fixture
def demo(erp_engine):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    return erp_engine


def set_default_account(engine, client_id: int, account: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE erp_client SET default_bank_account = :a WHERE client_id = :c"),
            {"a": account, "c": client_id},
        )


def bgmax_to(deposits: list[tuple[str, list[dict]]]) -> bytes:
    """A BgMax file with one deposit per (payee bankgiro, payments), in that order."""
    files = [
        write_bgmax(payments_frame(p), payee_bankgiro=giro, written_at=dt.datetime(2026, 11, 2, 3))
        for giro, p in deposits
    ]
    if len(files) == 1:
        return files[0]
    # the deposits of the files one after the other, under the first start and one end record
    lines = [f.decode("iso-8859-1").split("\r\n") for f in files]
    body = [line for part in lines for line in part if line[:2] not in ("01", "70", "")]
    count = sum(len(p) for _, p in deposits)
    end = f"70{count:08d}{0:08d}{0:08d}{len(files):08d}".ljust(80)
    return "\r\n".join([lines[0][0], *body, end, ""]).encode("iso-8859-1")


def test_a_bgmax_file_to_another_bankgiro_is_quarantined_and_books_nothing(demo, tmp_path):
    """The client receives on bankgiro 991-2346; a file paid to 555-5555 (another creditor's,
    its debtors' references may be this client's KIDs) books nothing, names line and field."""
    (owed,) = invoices(demo, "open", 1).to_dict("records")
    data = bgmax_to([("5555555", [payment(owed["kid"], owed["remaining_amount"])])])
    result = run(demo, tmp_path, "BGMAX.other.txt", data)
    assert result["status"] == "quarantined", result
    assert result["field"] == "payee_account" and result["line"] == 3
    assert "5555555" in result["error"] and "9912346" in result["error"]
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0
    assert (
        one(demo, "SELECT remaining_amount FROM erp_invoice WHERE invoice_id = :i",
            i=owed["invoice_id"])
        == owed["remaining_amount"]
    )  # fmt: skip
    issue = one(demo, "SELECT reason FROM ink_file_issue WHERE field = 'payee_account'")
    assert "not the client's" in issue


def test_one_deposit_to_another_bankgiro_quarantines_the_whole_file(demo, tmp_path):
    """The first deposit is the client's, the second another bankgiro's: nothing of the file is
    booked, not even the client's own deposit (a person sorts the file out)."""
    first, second = invoices(demo, "open", 2).to_dict("records")
    data = bgmax_to(
        [
            (EXAMPLE_BANKGIRO, [payment(first["kid"], 1_000, ref="A")]),
            ("5555555", [payment(second["kid"], 2_000, ref="B")]),
        ]
    )
    result = run(demo, tmp_path, "BGMAX.two.txt", data)
    assert result["status"] == "quarantined", result
    assert result["field"] == "payee_account" and result["line"] == 6
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0


def test_a_file_to_an_agreements_payback_account_is_the_clients(demo, tmp_path):
    """The client's default account is another one, but its Lowell agreement has the agency pay
    back to bankgiro 991-2346: money into that account is the client's, booked."""
    set_default_account(demo, SE_CLIENT, "1234566")
    (owed,) = invoices(demo, "open", 1).to_dict("records")
    data = bgmax_to([(EXAMPLE_BANKGIRO, [payment(owed["kid"], 1_000, ref="A")])])
    assert run(demo, tmp_path, "BGMAX.1.txt", data)["status"] == "quarantined"
    with demo.begin() as conn:
        conn.execute(
            update(ink_agreement)
            .where(ink_agreement.c.agreement_id == SE_AGREEMENT)
            .values(payback_account="991-2346")
        )
    data = bgmax_to([(EXAMPLE_BANKGIRO, [payment(owed["kid"], 1_000, ref="B")])])
    result = run(demo, tmp_path, "BGMAX.2.txt", data)
    assert result["status"] == "applied", result
    assert result["direct"] == 1


def test_bankgirots_example_files_are_paid_to_their_bankgiro_not_their_bank_account(
    demo, tmp_path, reference_dir
):
    """Bankgirot's example files are paid to bankgiro 991-2346 (their openings, 05), deposited
    on bank account 5841000001009823 (their deposit records, 15, zero-padded). Either is the client's; a client
    with another account gets them quarantined as not its money."""
    data = (reference_dir / "bgmax" / "minimal.txt").read_bytes()
    set_default_account(demo, SE_CLIENT, "1234566")
    result = run(demo, tmp_path, "minimal.txt", data)
    assert result["status"] == "quarantined"
    assert result["field"] == "payee_account" and result["line"] == 3, result
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0
    set_default_account(demo, SE_CLIENT, "5841000001009823")  # the bank account will do
    assert run(demo, tmp_path, "minimal.2.txt", data + b"\r\n")["status"] == "applied"
    set_default_account(demo, SE_CLIENT, "991-2346")  # and so will the bankgiro
    assert run(demo, tmp_path, "minimal.3.txt", data + b"\r\n\r\n")["status"] == "applied"
    # the big example: its deposits are the client's, only its EUR deposit is wrong
    big = (reference_dir / "bgmax" / "BgMaxfil4.txt").read_bytes()
    assert run(demo, tmp_path, "BgMaxfil4.txt", big)["field"] == "currency"


def test_nets_example_file_books_only_at_the_client_of_its_account(demo, tmp_path, reference_dir):
    """ocr_giro_transactions.txt is paid into assignment account 9999.10.42764: booked at the
    Norwegian client with that account, quarantined at one with another account."""
    data = (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt").read_bytes()
    set_default_account(demo, NO_CLIENT, "12345678903")
    result = run(demo, tmp_path, "ocr_giro_transactions.txt", data, client_id=NO_CLIENT)
    assert result["status"] == "quarantined"
    assert result["field"] == "payee_account" and result["line"] == 3, result
    assert "not the client's" in result["error"]  # account numbers masked like ids
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0

    set_default_account(demo, NO_CLIENT, "9999.10.42764")  # written with separators: the same
    result = run(demo, tmp_path, "ocr_giro_transactions.2.txt", data + b"\n", client_id=NO_CLIENT)
    assert result["status"] == "applied", result
    assert one(demo, "SELECT SUM(amount) FROM erp_payment") == 5_144_900
    assert pd.isna(one(demo, "SELECT MAX(invoice_id) FROM erp_payment"))  # KIDs not the demo's


def test_an_account_listed_in_the_clients_drop_is_the_clients(demo, tmp_path):
    """A client receiving on a second bankgiro lists it in its drop's ``accounts``
    (``inkasso_bank_drops``): that file books through the client's drop, the same bytes at a
    client whose drop does not list it are quarantined."""
    from inkasso.bank.drops import parse_drops
    from inkasso.bank.importer import import_drop

    (owed,) = invoices(demo, "open", 1).to_dict("records")
    data = bgmax_to([("5555555", [payment(owed["kid"], owed["remaining_amount"])])])
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "BGMAX.second.txt").write_bytes(data)
    config = {str(SE_CLIENT): {"folder": str(folder), "accounts": ["555-5555"]}}
    (drop,) = parse_drops(config, [SE_CLIENT], tmp_path)
    assert drop.accounts == ("555-5555",)
    result = import_drop(demo, drop, business_date=DAY, base=tmp_path, now=NOW, run_id="t")
    (booked,) = result["files"]
    assert booked["status"] == "applied", booked
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 1
    assert (
        one(demo, "SELECT remaining_amount FROM erp_invoice WHERE invoice_id = :i",
            i=owed["invoice_id"])
        == 0
    )  # fmt: skip


def test_drop_accounts_must_be_a_list_of_texts(tmp_path):
    """A number (leading zeros lost) or a single string is refused when the Variable is read."""
    from inkasso.bank.drops import parse_drops

    for bad in (5555555, "555-5555", [5555555]):
        config = {"4": {"folder": str(tmp_path), "accounts": bad}}
        with pytest.raises(ValueError, match="'accounts' must be a list"):
            parse_drops(config, [4], tmp_path)
