"""Banks reuse file names, and payment references repeat from file to file (BgMax's ``L<line>``
when a deposit has no serial numbers, OCR giro's assignment and transaction numbers): a new file
under an old name books its own payments once, under ``<name>#<file_id>``, and blocks nothing
(SQLite and PostgreSQL)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import threading
import time
from decimal import Decimal

import netsgiro
import pytest

from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.drops import BankDrop
from inkasso.bank.importer import import_bank_file, import_drop
from inkasso.bank.model import payments_frame
from inkasso.bank.names import erp_names
from inkasso.report.sections import files_of_day
from tests.db_helpers import EXAMPLE_NO_ACCOUNT, receive_at_example_accounts
from tests.db_helpers import query_frame as rows
from tests.db_helpers import query_one as one

DAY = dt.date(2026, 11, 2)
NEXT = DAY + dt.timedelta(days=1)
NOW = dt.datetime(2026, 11, 2, 3, tzinfo=dt.UTC)
SE_CLIENT, NO_CLIENT = 4, 1


@pytest.fixture
def demo(erp_engine):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    return erp_engine


def wall() -> dt.datetime:
    """The clock the drop's file times are on (the DAG passes ``run.now()``)."""
    return dt.datetime.now(dt.UTC)


def run(engine, base, name, data, client_id=SE_CLIENT, day=DAY):
    return import_bank_file(
        engine, client_id, name, data, business_date=day, base=base, now=NOW, run_id="test"
    )


def open_invoices(engine, client_id, n) -> list[dict]:
    return rows(
        engine,
        "SELECT invoice_id, kid, remaining_amount FROM erp_invoice WHERE client_id = :c "
        "AND status = 'open' AND remaining_amount > 1000 ORDER BY invoice_id",
        c=client_id,
    ).head(n).to_dict("records")  # fmt: skip


def bgmax(*payments: tuple[str, int]) -> bytes:
    """A BgMax file without BGC serial numbers: its references are ``L<line>``."""
    frame = payments_frame([
        {"payment_ref": "", "payer_account": "1234567", "reference": kid, "amount": amount,
         "payment_date": DAY, "payee_account": "9912346", "currency": "SEK", "payer_name": "",
         "line": 0}
        for kid, amount in payments
    ])  # fmt: skip
    return write_bgmax(frame, payee_bankgiro="9912346", written_at=dt.datetime(2026, 11, 2, 3))


def payments_of(engine, bank_file) -> list[tuple]:
    return [
        tuple(r)
        for r in rows(
            engine, "SELECT payment_ref, reference, amount, invoice_id FROM erp_payment "
            "WHERE bank_file = :f ORDER BY payment_ref", f=bank_file,
        ).itertuples(index=False)
    ]  # fmt: skip


def remaining(engine, invoice_id) -> int:
    return one(
        engine, "SELECT remaining_amount FROM erp_invoice WHERE invoice_id = :i", i=invoice_id
    )


def test_bgmax_under_an_old_name_with_the_same_line_refs_books_its_own_payments_once(
    demo, tmp_path
):
    a, b, c = open_invoices(demo, SE_CLIENT, 3)
    first = run(demo, tmp_path, "BGMAX.txt", bgmax((a["kid"], 700), (b["kid"], 200)))
    before = payments_of(demo, "BGMAX.txt")
    later = bgmax((c["kid"], 300), (b["kid"], 100), ("999", 50))  # L-refs repeat the first's

    result = run(demo, tmp_path, "BGMAX.txt", later, day=NEXT)

    assert first["status"] == result["status"] == "applied"
    assert (result["payments"], result["amount"], result["direct"]) == (3, 450, 2)
    file_id = one(demo, "SELECT MAX(file_id) FROM ink_file_log WHERE file_name = 'BGMAX.txt'")
    assert result["bank_file"] == f"BGMAX.txt#{file_id}"
    assert payments_of(demo, "BGMAX.txt") == before  # the first file's rows untouched
    assert sorted(r[2] for r in payments_of(demo, result["bank_file"])) == [50, 100, 300]
    owed = {a["invoice_id"]: a["remaining_amount"] - 700,
            b["invoice_id"]: b["remaining_amount"] - 300, c["invoice_id"]: c["remaining_amount"] - 300}  # fmt: skip
    assert {i: remaining(demo, i) for i in owed} == owed
    assert "BGMAX.txt#" in one(
        demo, "SELECT detail FROM ink_file_log WHERE file_id = :f", f=file_id
    )

    for data, day in ((later, NEXT), (bgmax((a["kid"], 700), (b["kid"], 200)), DAY)):
        assert run(demo, tmp_path, "BGMAX.txt", data, day=day)["status"] == "already_imported"
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 5
    assert {i: remaining(demo, i) for i in owed} == owed


def test_a_third_file_under_the_name_gets_its_own_name_too(demo, tmp_path):
    (a,) = open_invoices(demo, SE_CLIENT, 1)
    for n, day in enumerate((DAY, NEXT, NEXT + dt.timedelta(days=1)), start=1):
        assert (
            run(demo, tmp_path, "BGMAX.txt", bgmax((a["kid"], 10 * n)), day=day)["status"]
            == "applied"
        )

    names = rows(demo, "SELECT bank_file, amount FROM erp_payment ORDER BY payment_id")
    assert names.amount.tolist() == [10, 20, 30]
    assert names.bank_file.nunique() == 3 and names.bank_file[0] == "BGMAX.txt"
    assert remaining(demo, a["invoice_id"]) == a["remaining_amount"] - 60


def _ocr_sample(reference_dir, kid: str | None = None, text: str = "Foo bar baz") -> bytes:
    """The Nets sample transmission, with other bytes: a free text and a KID changed."""
    lines = (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt").read_text("iso-8859-1")
    lines = lines.replace("Foo bar baz", text.ljust(11)[:11]).splitlines()
    if kid:  # the first transaction's KID (record 30, columns 50-74), amount and sums unchanged
        lines[2] = lines[2][:49] + kid.rjust(25) + lines[2][74:]
    return ("\n".join(lines) + "\n").encode("iso-8859-1")


def test_ocr_giro_under_an_old_name_with_the_same_transaction_numbers_is_booked(
    demo, tmp_path, reference_dir
):
    (invoice,) = open_invoices(demo, NO_CLIENT, 1)
    run(demo, tmp_path, "OCR.txt", _ocr_sample(reference_dir), client_id=NO_CLIENT)
    before = payments_of(demo, "OCR.txt")
    later = _ocr_sample(reference_dir, kid=invoice["kid"], text="Other text")

    result = run(demo, tmp_path, "OCR.txt", later, client_id=NO_CLIENT, day=NEXT)

    assert (result["status"], result["payments"], result["direct"]) == ("applied", 20, 1)
    assert payments_of(demo, "OCR.txt") == before
    booked = payments_of(demo, result["bank_file"])
    assert [r[0] for r in booked] == [r[0] for r in before]  # the same references, apart
    paid = next(r[2] for r in booked if r[1] == invoice["kid"])
    assert remaining(demo, invoice["invoice_id"]) == max(invoice["remaining_amount"] - paid, 0)
    assert one(demo, "SELECT SUM(amount) FROM erp_payment") == 2 * 5_144_900
    rerun = run(demo, tmp_path, "OCR.txt", later, client_id=NO_CLIENT, day=NEXT)
    assert rerun["status"] == "already_imported"
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 40


def test_another_clients_file_of_the_same_name_is_booked_apart(demo, tmp_path, reference_dir):
    """Two clients of one bank get files of the same name; erp_payment is unique on the name."""
    run(demo, tmp_path, "OCR.txt", _ocr_sample(reference_dir), client_id=NO_CLIENT)
    other = run(demo, tmp_path, "OCR.txt", _ocr_sample(reference_dir, text="Client 2"), client_id=2)
    assert other["status"] == "applied" and other["bank_file"].startswith("OCR.txt#")
    assert one(demo, "SELECT COUNT(DISTINCT client_id) FROM erp_payment") == 2


def test_a_file_after_a_reused_name_in_the_same_drop_is_booked(demo, tmp_path):
    a, b, c = open_invoices(demo, SE_CLIENT, 3)
    folder = tmp_path / "drop"
    folder.mkdir()
    (folder / "BGMAX.txt").write_bytes(bgmax((a["kid"], 700)))
    drop = BankDrop(SE_CLIENT, folder=str(folder))
    import_drop(demo, drop, business_date=DAY, base=tmp_path, now=wall())
    (folder / "BGMAX.txt").write_bytes(bgmax((b["kid"], 200), ("999", 5)))  # replaced by the bank
    (folder / "BGMAX_2.txt").write_bytes(bgmax((c["kid"], 300)))

    result = import_drop(demo, drop, business_date=NEXT, base=tmp_path, now=wall())

    assert [(f["file_name"], f["status"]) for f in result["files"]] == [
        ("BGMAX.txt", "applied"), ("BGMAX_2.txt", "applied")]  # fmt: skip
    for invoice, paid in ((a, 700), (b, 200), (c, 300)):
        assert remaining(demo, invoice["invoice_id"]) == max(invoice["remaining_amount"] - paid, 0)
    again = import_drop(demo, drop, business_date=NEXT, base=tmp_path, now=wall())
    assert again["files"] == [] and one(demo, "SELECT SUM(amount) FROM erp_payment") == 1_205


def _ocr_twice_numbered(kid: str) -> bytes:
    """An OCR giro file whose assignment numbers two transactions alike: its references repeat."""
    transmission = netsgiro.Transmission(
        number="1000001", data_transmitter="00008080", data_recipient="00000001", date=DAY
    )
    assignment = transmission.add_assignment(
        service_code=netsgiro.ServiceCode.OCR_GIRO,
        assignment_type=netsgiro.AssignmentType.TRANSACTIONS,
        agreement_id="000000001", number="1000001", account=EXAMPLE_NO_ACCOUNT, date=DAY,
    )  # fmt: skip
    for _ in range(2):
        assignment.transactions.append(
            netsgiro.Transaction(
                service_code=netsgiro.ServiceCode.OCR_GIRO,
                type=netsgiro.TransactionType.FROM_GIRO_DEBITED_ACCOUNT,
                number=1, date=DAY, amount=Decimal("12.00"), kid=kid, centre_id="01",
                day_code=DAY.day, partial_settlement_number=1,
                partial_settlement_serial_number="00001", sign="0", form_number="0000000000",
                bank_date=DAY, debit_account="12345678903", reference="000000001", text=None,
                filler=None,
            )
        )  # fmt: skip
    return transmission.to_ocr().encode("iso-8859-1") + b"\n"


def test_a_transaction_numbered_twice_is_quarantined_with_its_line(demo, tmp_path):
    (invoice,) = open_invoices(demo, NO_CLIENT, 1)

    result = run(demo, tmp_path, "OCR.dup.txt", _ocr_twice_numbered(invoice["kid"]), NO_CLIENT)

    assert (result["status"], result["line"], result["field"]) == (
        "quarantined", 5, "transaction_number")  # fmt: skip
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0
    assert remaining(demo, invoice["invoice_id"]) == invoice["remaining_amount"]


def test_a_reference_twice_from_any_reader_is_quarantined_not_a_crash(demo, tmp_path, monkeypatch):
    """The readers never repeat a reference within a file; should one ever do, erp_payment's
    uniqueness must not fail the task: the file goes to quarantine naming line and field."""
    import inkasso.bank.importer as importer

    a, b = open_invoices(demo, SE_CLIENT, 2)
    data = bgmax((a["kid"], 700), (b["kid"], 200))
    reader = importer.iter_bank_file

    def repeating(source, name, chunk_rows):
        for chunk in reader(source, name, chunk_rows):
            payments = chunk.payments.assign(payment_ref="R1")
            yield dataclasses.replace(chunk, payments=payments)

    monkeypatch.setattr(importer, "iter_bank_file", repeating)
    result = run(demo, tmp_path, "BGMAX.txt", data)

    assert (result["status"], result["field"]) == ("quarantined", "payment_ref")
    lines = rows(demo, "SELECT line FROM ink_file_issue").line.tolist()
    assert lines == [result["line"]] and f"BGMAX.txt line {lines[0]}" in result["error"]
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0
    assert remaining(demo, a["invoice_id"]) == a["remaining_amount"]


def test_the_report_finds_each_days_file_under_its_erp_name(demo, tmp_path):
    (a,) = open_invoices(demo, SE_CLIENT, 1)
    run(demo, tmp_path, "BGMAX.txt", bgmax((a["kid"], 10)))
    second = run(demo, tmp_path, "BGMAX.txt", bgmax((a["kid"], 20), ("1", 1)), day=NEXT)
    first_id = one(demo, "SELECT MIN(file_id) FROM ink_file_log")
    with demo.connect() as conn:
        names = {
            day: sorted(conn.execute(erp_names(files_of_day(SE_CLIENT, day, "in", ("bgmax",)))).scalars())
            for day in (DAY, NEXT)
        }  # fmt: skip
    assert names == {DAY: ["BGMAX.txt", f"BGMAX.txt#{first_id}"], NEXT: [second["bank_file"]]}


def test_a_file_replaced_in_the_drop_by_one_of_the_same_size_is_booked(demo, tmp_path):
    """Fixed-width records: the bank's next file under the name often has the old one's size."""
    a, b = open_invoices(demo, SE_CLIENT, 2)
    folder = tmp_path / "drop"
    folder.mkdir()
    old, new = bgmax((a["kid"], 700)), bgmax((b["kid"], 200))
    assert len(old) == len(new)
    (folder / "BGMAX.txt").write_bytes(old)
    drop = BankDrop(SE_CLIENT, folder=str(folder))
    import_drop(demo, drop, business_date=DAY, base=tmp_path, now=NOW)
    (folder / "BGMAX.txt").write_bytes(new)  # a day later, by the file's time
    os.utime(folder / "BGMAX.txt", (NOW.timestamp() + 86_400,) * 2)

    result = import_drop(
        demo, drop, business_date=NEXT, base=tmp_path, now=NOW + dt.timedelta(days=1, hours=1)
    )

    assert [(f["file_name"], f["status"]) for f in result["files"]] == [("BGMAX.txt", "applied")]
    assert remaining(demo, b["invoice_id"]) == b["remaining_amount"] - 200
    assert remaining(demo, a["invoice_id"]) == a["remaining_amount"] - 700
    later = NOW + dt.timedelta(days=2)
    again = import_drop(demo, drop, business_date=NEXT, base=tmp_path, now=later)
    assert again["files"] == [] and one(demo, "SELECT SUM(amount) FROM erp_payment") == 900


def test_two_clients_files_of_one_name_booked_at_once_both_book(demo, tmp_path, reference_dir,
                                                                 monkeypatch):  # fmt: skip
    """Two clients' imports run at once: the second of two files of one name waits for the
    first to commit (PostgreSQL: a lock on the name; SQLite: its one writer at a time) and takes
    its own name, instead of failing on the unique key."""
    import inkasso.bank.importer as importer

    inside, real = threading.Event(), importer.book_staged

    def slow_first(conn, client_id, *args):
        if client_id == NO_CLIENT:  # the first file: hold its transaction open a while
            inside.set()
            time.sleep(1.5)
        return real(conn, client_id, *args)

    monkeypatch.setattr(importer, "book_staged", slow_first)
    results = {}

    def book(client_id, text_):
        data = _ocr_sample(reference_dir, text=text_)
        results[client_id] = run(demo, tmp_path / str(client_id), "OCR.txt", data, client_id)

    first = threading.Thread(target=book, args=(NO_CLIENT, "First"))
    first.start()
    assert inside.wait(30)
    second = threading.Thread(target=book, args=(2, "Second"))
    second.start()
    first.join(60)
    second.join(60)

    assert results[NO_CLIENT]["bank_file"] == "OCR.txt"
    assert results[2]["status"] == "applied" and results[2]["bank_file"].startswith("OCR.txt#")
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 40


def test_a_replacement_is_found_by_its_drop_time_whatever_the_banks_clock(demo, tmp_path):
    """The bank's clock runs behind ours: its replacement of a file (same name, same size) is
    stamped before we logged the first one, and is still read and booked, once. The same bytes
    touched again are read once more (nothing booked) and then left alone."""
    a, b = open_invoices(demo, SE_CLIENT, 2)
    folder = tmp_path / "drop"
    folder.mkdir()
    path = folder / "BGMAX.txt"
    old, new = bgmax((a["kid"], 700)), bgmax((b["kid"], 200))
    path.write_bytes(old)
    os.utime(path, (NOW.timestamp() - 7200,) * 2)
    drop = BankDrop(SE_CLIENT, folder=str(folder))
    import_drop(demo, drop, business_date=DAY, base=tmp_path, now=NOW)
    path.write_bytes(new)  # stamped by a clock an hour behind: still before NOW
    os.utime(path, (NOW.timestamp() - 3600,) * 2)

    result = import_drop(demo, drop, business_date=NEXT, base=tmp_path, now=NOW)

    assert [(f["file_name"], f["status"]) for f in result["files"]] == [("BGMAX.txt", "applied")]
    assert one(demo, "SELECT SUM(amount) FROM erp_payment") == 900
    os.utime(path, (NOW.timestamp() - 1800,) * 2)  # touched: same bytes, another time
    touched = import_drop(demo, drop, business_date=NEXT, base=tmp_path, now=NOW)
    assert [f["status"] for f in touched["files"]] == ["already_imported"]
    again = import_drop(demo, drop, business_date=NEXT, base=tmp_path, now=NOW)
    assert again["files"] == [] and again["skipped_known"] == 1
    assert one(demo, "SELECT SUM(amount) FROM erp_payment") == 900


def test_the_demo_bank_view_shows_each_days_file_with_its_own_payments(demo, tmp_path, capsys):
    """`make demo`'s bank printout: a file under a reused name lists its own payments only."""
    from inkasso_demo.views.bank import print_bank_day

    (a,) = open_invoices(demo, SE_CLIENT, 1)
    run(demo, tmp_path, "BGMAX.txt", bgmax((a["kid"], 10)))
    run(demo, tmp_path, "BGMAX.txt", bgmax((a["kid"], 20), ("1", 1)), day=NEXT)
    counted = {}
    for day in (DAY, NEXT):
        print_bank_day(demo, day)
        kinds = [line.split() for line in capsys.readouterr().out.splitlines()
                 if line.startswith("      ")]  # fmt: skip
        counted[day] = sorted((kind[0], int(kind[1])) for kind in kinds)
    assert counted == {DAY: [("direct", 1)], NEXT: [("direct", 1), ("unmatched", 1)]}
