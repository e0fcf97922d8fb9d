"""Hostile bank drops (SQLite and PostgreSQL): a file that vanishes between the listing and the
reading, a file name used again for other bytes, a Bankgirot test file. Each is reported on its
own; the other files of the drop are booked; a rerun books nothing twice."""

from __future__ import annotations

import datetime as dt
import hashlib
import os

import pandas as pd
import pytest
from sqlalchemy import text

from inkasso.bank import drops as drops_module
from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.drops import BankDrop
from inkasso.bank.importer import import_drop
from inkasso.bank.model import payments_frame
from tests.db_helpers import receive_at_example_accounts
from tests.sftp_helpers import simulator_fixtures

DAY = dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 2, 3, tzinfo=dt.UTC)
NO_CLIENT = 1
PAYMENTS_IN_OCR = 20


DEMO_CUSTOMERS = 200  # conftest's demo_erp, from DAY


@pytest.fixture
def demo(demo_erp):
    receive_at_example_accounts(demo_erp)
    return demo_erp


def ocr(reference_dir) -> bytes:
    return (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt").read_bytes()


def scalar(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


def written_before_now(path):
    """Date the file before the run's clock, as a bank's files are."""
    stamp = (NOW - dt.timedelta(hours=1)).timestamp()
    os.utime(path, (stamp, stamp))


def test_a_file_that_vanishes_after_the_listing_blocks_nothing(
    demo, tmp_path, reference_dir, monkeypatch
):
    drop_dir = tmp_path / "drop"
    drop_dir.mkdir()
    (drop_dir / "b_good.txt").write_bytes(ocr(reference_dir))
    (drop_dir / "a_vanishing.txt").write_bytes(b"NY000010" + b"0" * 72 + b"\n")
    for name in ("a_vanishing.txt", "b_good.txt"):
        written_before_now(drop_dir / name)
    real_list = drops_module.list_drop

    def list_then_vanish(drop):
        listed = real_list(drop)
        (drop_dir / "a_vanishing.txt").unlink()  # the bank takes it back meanwhile
        return listed

    monkeypatch.setattr(drops_module, "list_drop", list_then_vanish)
    drop = BankDrop(NO_CLIENT, folder=str(drop_dir))

    result = import_drop(demo, drop, business_date=DAY, base=tmp_path / "files", now=NOW)

    by_name = {f["file_name"]: f for f in result["files"]}
    assert by_name["b_good.txt"]["status"] == "applied"
    assert by_name["a_vanishing.txt"]["status"] == "vanished"
    assert "a_vanishing.txt" in by_name["a_vanishing.txt"]["error"]
    assert scalar(demo, "SELECT COUNT(*) FROM erp_payment") == PAYMENTS_IN_OCR

    (drop_dir / "a_vanishing.txt").write_bytes(b"NY000010" + b"0" * 72 + b"\n")
    written_before_now(drop_dir / "a_vanishing.txt")
    monkeypatch.setattr(drops_module, "list_drop", real_list)

    again = import_drop(demo, drop, business_date=DAY, base=tmp_path / "files", now=NOW)

    # back in the drop, it is read (and, broken, quarantined); nothing is booked twice
    assert [(f["file_name"], f["status"]) for f in again["files"]] == [
        ("a_vanishing.txt", "quarantined")
    ]
    assert scalar(demo, "SELECT COUNT(*) FROM erp_payment") == PAYMENTS_IN_OCR


def replace_in_drop(path, data: bytes, hours_before_now: int) -> None:
    """The bank writes a file under a name again: other bytes, another modification time."""
    path.write_bytes(data)
    stamp = (NOW - dt.timedelta(hours=hours_before_now)).timestamp()
    os.utime(path, (stamp, stamp))


def other_transmission(data: bytes, number: bytes) -> bytes:
    """The same OCR giro payments in a transmission of another number (line 1, columns 17-23)."""
    return data[:16] + number + data[23:]


def test_a_name_used_again_keeps_every_logged_file_s_own_bytes(demo, tmp_path, reference_dir):
    """Each log row's path holds the bytes of its sha256: the quarantined copies of two broken
    files of one name, and the archived copies of two booked ones, stay apart."""
    drop_dir = tmp_path / "drop"
    drop_dir.mkdir()
    drop = BankDrop(NO_CLIENT, folder=str(drop_dir))
    good = ocr(reference_dir)
    deliveries = [
        good[: len(good) // 2],  # broken: cut short
        good[: len(good) // 3],  # broken otherwise
        good,
        other_transmission(good, b"0000099"),
    ]
    for hours, data in zip((8, 6, 4, 2), deliveries, strict=True):
        replace_in_drop(drop_dir / "OCR.txt", data, hours)
        import_drop(demo, drop, business_date=DAY, base=tmp_path / "files", now=NOW)

    with demo.connect() as conn:
        logged = conn.execute(
            text("SELECT status, path, sha256 FROM ink_file_log ORDER BY file_id")
        ).all()
    assert [row.status for row in logged] == ["quarantined", "quarantined", "applied", "applied"]
    for row in logged:
        with open(row.path, "rb") as handle:
            assert hashlib.sha256(handle.read()).hexdigest() == row.sha256, row.path


def test_a_bankgirot_test_file_is_never_booked(erp_engine, tmp_path):
    """A BgMax file marked T (Bankgirot's test delivery, e.g. while a client is connected) holds
    made-up payments: logged ignored, no invoice lowered; the production file is booked."""
    from inkasso_demo.erp.generator import create_demo_erp
    from tests.inkasso.bank.test_bank_import import SE_CLIENT, invoices, payment, run

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    (owed,) = invoices(erp_engine, "open", 1).to_dict("records")
    paid = payments_frame([payment(owed["kid"], 700, ref="T1")])
    written = dt.datetime(2026, 11, 2, 3)

    def bgmax(test):
        return write_bgmax(paid, payee_bankgiro="9912346", written_at=written, test=test)

    test_run = run(erp_engine, tmp_path, "BGMAX.test.txt", bgmax(test=True), SE_CLIENT)

    assert test_run["status"] == "ignored"
    assert scalar(erp_engine, "SELECT COUNT(*) FROM erp_payment") == 0
    left = f"SELECT remaining_amount FROM erp_invoice WHERE invoice_id = {owed['invoice_id']}"
    assert scalar(erp_engine, left) == owed["remaining_amount"]
    with erp_engine.connect() as conn:
        status, detail = conn.execute(
            text("SELECT status, detail FROM ink_file_log WHERE file_name = 'BGMAX.test.txt'")
        ).one()
    assert status == "ignored" and "test" in detail

    production = run(erp_engine, tmp_path, "BGMAX.txt", bgmax(test=False), SE_CLIENT)

    assert production["status"] == "applied"
    assert scalar(erp_engine, left) == owed["remaining_amount"] - 700


def test_a_utf_8_bgmax_file_is_quarantined_naming_line_and_field(demo, tmp_path, reference_dir):
    """BgMax is ISO-8859-1: the same file saved as UTF-8 would book payer names as 'PlÃ¥t'
    (its name records end in blanks, so the lengths still fit). Quarantined where the first
    UTF-8 letter stands; the good file beside it is booked; a rerun books nothing twice."""
    utf8 = (reference_dir / "bgmax" / "BgMaxfil4.txt").read_bytes().decode("iso-8859-1")
    drop_dir = tmp_path / "drop"
    drop_dir.mkdir()
    (drop_dir / "a_utf8.txt").write_bytes(utf8.encode("utf-8"))
    (drop_dir / "b_good.txt").write_bytes(ocr(reference_dir))
    for name in ("a_utf8.txt", "b_good.txt"):
        written_before_now(drop_dir / name)
    drop = BankDrop(NO_CLIENT, folder=str(drop_dir))

    result = import_drop(demo, drop, business_date=DAY, base=tmp_path / "files", now=NOW)

    by_name = {f["file_name"]: f for f in result["files"]}
    assert by_name["b_good.txt"]["status"] == "applied"
    quarantined = by_name["a_utf8.txt"]
    assert (quarantined["status"], quarantined["line"], quarantined["field"]) == (
        "quarantined", 10, "name"
    )  # fmt: skip
    assert "UTF-8" in quarantined["error"] and "a_utf8.txt line 10" in quarantined["error"]
    again = import_drop(demo, drop, business_date=DAY, base=tmp_path / "files", now=NOW)
    assert again["files"] == []
    assert scalar(demo, "SELECT COUNT(*) FROM erp_payment") == PAYMENTS_IN_OCR


def test_a_utf_8_answer_to_a_latin_1_layout_names_line_and_field():
    """An agency answer in UTF-8 where the layout is ISO-8859-1: the error says so, with the
    line and field of the first such letter (not only 'wrong line length')."""
    from inkasso.formats import FormatError, load_layout

    layout = load_layout("lowell.receipt")
    good = layout.write(
        {"customer_no": "40012", "file_date": DAY},
        pd.DataFrame([{"case_id": 101, "agency_case_ref": "L101", "receipt_status": "R",
                       "reason_code": "R03", "reason_text": "Skyldner død"}]),
    )  # fmt: skip
    utf8 = good.decode("iso-8859-1").encode("utf-8")

    with pytest.raises(FormatError) as caught:
        layout.read(utf8, "Kvitt_40012.txt")

    assert (caught.value.line, caught.value.field) == (2, "reason_text")
    assert "UTF-8" in caught.value.reason


def test_a_utf_8_answer_to_a_delimited_latin_1_layout_names_line_and_field():
    """The same for a delimited layout, where no length would ever tell."""
    from inkasso.formats import FormatError, load_layout

    layout = load_layout("credicare.receipt")
    good = layout.write(
        {"customer_no": "40012", "file_date": DAY},
        pd.DataFrame([{"case_id": 101, "agency_case_ref": "L101", "receipt_status": "R",
                       "reason_code": "R03", "reason_text": "Gäldenär död"}]),
    )  # fmt: skip
    assert layout.read(good, "svar.csv").details("detail")["reason_text"][0] == "Gäldenär död"

    with pytest.raises(FormatError) as caught:
        layout.read(good.decode("iso-8859-1").encode("utf-8"), "svar.csv")

    assert (caught.value.line, caught.value.field) == (2, "reason_text")
    assert "UTF-8" in caught.value.reason


def test_a_payment_in_another_currency_never_lowers_an_invoice(erp_engine, tmp_path):
    """A BgMax file may hold a EUR deposit beside the SEK ones (Bankgirot's own sample does): a
    EUR payment whose reference is a SEK invoice's KID is not 700 öre off that invoice (cents are
    not öre). The file waits whole in quarantine for a person, naming the EUR payment's line and
    the field; neither invoice is lowered, the SEK one not either."""
    from inkasso_demo.erp.generator import create_demo_erp
    from tests.inkasso.bank.test_bank_import import SE_CLIENT, invoices, payment, run

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    sek, eur = invoices(erp_engine, "open", 2).to_dict("records")
    assert scalar(erp_engine, f"SELECT currency FROM erp_invoice WHERE invoice_id = {eur['invoice_id']}") == "SEK"  # fmt: skip
    paid = payments_frame(
        [
            payment(sek["kid"], 500, ref="S1"),
            payment(eur["kid"], 700, ref="E1") | {"currency": "EUR"},
        ]
    )
    data = write_bgmax(paid, payee_bankgiro="9912346", written_at=dt.datetime(2026, 11, 2, 3))
    eur_line = next(
        n for n, line in enumerate(data.split(b"\r\n"), 1)
        if line.startswith(b"20") and eur["kid"].encode() in line
    )  # fmt: skip

    result = run(erp_engine, tmp_path, "BGMAX.eur.txt", data, SE_CLIENT)

    assert (result["status"], result["field"]) == ("quarantined", "currency")
    assert result["line"] == eur_line and "EUR" in result["error"]
    left = "SELECT remaining_amount FROM erp_invoice WHERE invoice_id = {}"
    assert scalar(erp_engine, left.format(sek["invoice_id"])) == sek["remaining_amount"]
    assert scalar(erp_engine, left.format(eur["invoice_id"])) == eur["remaining_amount"]
    assert scalar(erp_engine, "SELECT COUNT(*) FROM erp_payment") == 0


client_key, server, conn, inbox, outbox, at_rest = simulator_fixtures("bank_sftp")


def test_names_that_are_paths_are_never_read_from_an_sftp_drop(
    demo, tmp_path, reference_dir, conn, outbox, monkeypatch
):
    """A bank's SFTP server may list names no file system holds ('../x', 'a/b'): read, such a
    name would be archived outside the archive. Never read nor logged, reported as refused; a
    listed file gone before it is read is reported vanished; the real file beside them is
    booked."""
    import inkasso.transport
    from inkasso.transport import RemoteFile

    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "b_good.txt").write_bytes(ocr(reference_dir))
    hostile = ["../../../../../../../outbox/b_good.txt", "sub/b_good.txt", "..", "a\nb.txt"]
    real_list = inkasso.transport.list_remote

    def listing(*args, **kwargs):
        listed = [*hostile, "c_gone.txt"]  # the last: gone again before it is read
        return real_list(*args, **kwargs) + [RemoteFile(n, 10, NOW) for n in listed]

    monkeypatch.setattr(inkasso.transport, "list_remote", listing)
    drop = BankDrop(NO_CLIENT, sftp_conn_id=conn, dir="/outbox")
    base = tmp_path / "files"

    result = import_drop(demo, drop, business_date=DAY, base=base, now=NOW)

    by_name = {f["file_name"]: f for f in result["files"]}
    assert by_name["b_good.txt"]["status"] == "applied"
    assert {by_name[n]["status"] for n in hostile} == {"refused"}
    assert by_name["c_gone.txt"]["status"] == "vanished"
    with demo.connect() as conn:
        logged = [n for (n,) in conn.execute(text("SELECT file_name FROM ink_file_log"))]
    assert logged == ["b_good.txt"]
    with demo.connect() as conn:  # kept for the day's mail, which names them (tests/inkasso/report)
        notices = conn.execute(text("SELECT status, file_name FROM ink_bank_notice")).all()
    assert sorted(notices) == sorted(
        [*(("refused", n) for n in hostile), ("vanished", "c_gone.txt")]
    )
    kept = sorted(p for p in tmp_path.rglob("*b_good.txt") if "agency" not in p.parts)
    assert kept == [base / "inbound" / "bank" / "1" / DAY.isoformat() / "b_good.txt"]
    assert scalar(demo, "SELECT COUNT(*) FROM erp_payment") == PAYMENTS_IN_OCR


@pytest.mark.parametrize("chunk_rows", [None, 7])
def test_a_deposit_whose_currency_contradicts_its_opening_is_refused(reference_dir, chunk_rows):
    """The currency decides which invoices a payment may lower: a deposit record (15) saying EUR
    for a section opened (05) in SEK leaves it unknown, so the file is rejected at that line."""
    from inkasso.bank.bgmax import iter_bgmax
    from inkasso.bank.model import BankFileError

    lines = (reference_dir / "bgmax" / "BgMaxfil4.txt").read_bytes().split(b"\r\n")
    assert lines[18].startswith(b"15") and b"SEK" in lines[18]
    lines[18] = lines[18].replace(b"SEK", b"EUR")

    with pytest.raises(BankFileError) as caught:
        list(iter_bgmax(b"\r\n".join(lines), "BgMax.txt", chunk_rows=chunk_rows))

    assert (caught.value.line, caught.value.field) == (19, "currency")
    assert "SEK" in caught.value.reason and "EUR" in caught.value.reason
