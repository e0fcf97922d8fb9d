"""BgMax through the bank reader: Bankgirot's samples read to their own control records, broken
files are rejected with line and field, and files the format engine writes read back the same."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.bank.bgmax import read_bgmax, write_bgmax
from inkasso.bank.detect import detect_format, read_bank_file
from inkasso.bank.model import PAYMENT_COLUMNS, BankFileError, payments_frame


def _lines(reference_dir, name: str) -> list[str]:
    return (reference_dir / "bgmax" / name).read_bytes().decode("iso-8859-1").splitlines()


def _read(lines: list[str], name: str = "BGMAX.txt"):
    return read_bgmax(("\r\n".join(lines) + "\r\n").encode("iso-8859-1"), name)


@pytest.mark.parametrize("name", ["BgMaxfil4.txt", "minimal.txt"])
def test_sample_reads_to_the_counts_and_amounts_of_its_own_control_records(reference_dir, name):
    lines = _lines(reference_dir, name)
    end = next(line for line in lines if line.startswith("70"))
    deposits = [line for line in lines if line.startswith("15")]
    stated_payments = int(end[2:10]) + int(end[10:18])  # payment + deduction records
    stated_amount = sum(int(line[50:68]) for line in deposits)
    assert int(end[26:34]) == len(deposits)

    bank_file = _read(lines, name)

    assert bank_file.is_payments and bank_file.format == "bgmax"
    assert len(bank_file.payments) == stated_payments == bank_file.control_count
    assert bank_file.payments["amount"].sum() == stated_amount == bank_file.control_amount
    assert tuple(bank_file.payments.columns) == PAYMENT_COLUMNS
    assert all(type(a) is int for a in bank_file.payments["amount"].tolist())


def test_bgmaxfil4_payments_carry_payer_reference_date_and_name(reference_dir):
    payments = _read(_lines(reference_dir, "BgMaxfil4.txt")).payments
    first = payments.iloc[0]
    # its own reference is blank: the first extra reference (22) is the one to match on
    assert (first["payer_account"], first["reference"], first["amount"]) == (
        "3783511",
        "665760",
        180000,
    )
    assert first["payment_date"] == datetime.date(2004, 5, 25)
    assert first["payer_name"] == "Kalles Plåt AB" and first["currency"] == "SEK"
    assert payments.iloc[5]["payer_account"] == ""  # zeros: payer bankgiro unknown
    assert set(payments["currency"]) == {"SEK", "EUR"}
    assert payments["payment_ref"].is_unique


def test_broken_sample_is_rejected_on_its_end_record(reference_dir):
    data = (reference_dir / "bgmax" / "BgMaxfil4_broken.txt").read_bytes()
    with pytest.raises(BankFileError) as caught:
        read_bank_file(data, "BgMaxfil4_broken.txt")
    assert (caught.value.line, caught.value.field) == (67, "payment_count")
    assert str(caught.value).startswith("BgMaxfil4_broken.txt line 67 field payment_count")


@pytest.mark.parametrize("name", ["isolated_payment.txt", "isolated_deposit.txt"])
def test_pieces_without_a_start_record_are_not_bank_files(reference_dir, name):
    data = (reference_dir / "bgmax" / name).read_bytes()
    assert detect_format(data) is None
    with pytest.raises(BankFileError) as caught:
        read_bank_file(data, name)
    assert caught.value.line == 1 and caught.value.field == "record_type"


def test_a_deposit_whose_amount_disagrees_with_its_payments_is_rejected(reference_dir):
    lines = _lines(reference_dir, "BgMaxfil4.txt")
    index = next(i for i, line in enumerate(lines) if line.startswith("15"))
    line = lines[index]
    lines[index] = line[:50] + f"{int(line[50:68]) + 1:018d}" + line[68:]
    with pytest.raises(BankFileError) as caught:
        _read(lines)
    assert (caught.value.line, caught.value.field) == (index + 1, "amount")
    assert "payments sum to 370000" in caught.value.reason


def test_a_deposit_whose_count_disagrees_is_rejected(reference_dir):
    lines = _lines(reference_dir, "BgMaxfil4.txt")
    index = next(i for i, line in enumerate(lines) if line.startswith("15"))
    lines[index] = lines[index][:71] + "00000003" + lines[index][79:]
    with pytest.raises(BankFileError) as caught:
        _read(lines)
    assert (caught.value.line, caught.value.field) == (index + 1, "payment_count")


def test_every_reference_sample_is_told_apart(reference_dir):
    assert detect_format((reference_dir / "bgmax" / "BgMaxfil4.txt").read_bytes()) == "bgmax"
    for name in ("ocr_giro_transactions.txt", "avtalegiro_agreements.txt",
                 "avtalegiro_payment_request.txt"):  # fmt: skip
        assert detect_format((reference_dir / "ocr-giro" / name).read_bytes()) == "ocr_giro"
    agreements = read_bank_file(
        (reference_dir / "ocr-giro" / "avtalegiro_agreements.txt").read_bytes(), "a.txt"
    )
    assert not agreements.is_payments and agreements.payments.empty


_DATES = st.dates(datetime.date(2000, 1, 1), datetime.date(2099, 12, 31))


@st.composite
def _payments(draw):
    rows = []
    for number in range(draw(st.integers(1, 12))):
        reference = draw(st.text("0123456789", min_size=2, max_size=25) | st.just("")
                         | st.text("ABCÅÄÖ 12-", min_size=1, max_size=25).map(str.strip))  # fmt: skip
        rows.append(
            {
                "payment_ref": f"S{number:05d}",
                "payer_account": draw(st.just("") | st.integers(1_000_000, 99_999_999).map(str)),
                "reference": reference,
                "amount": draw(st.integers(1, 10**12)),
                "payment_date": draw(st.sampled_from([datetime.date(2026, 3, 2), draw(_DATES)])),
                "payee_account": draw(st.sampled_from(["58410000010098", "1234567890"])),
                "currency": draw(st.sampled_from(["SEK", "EUR"])),
                "payer_name": draw(st.just("") | st.text("abc ÅÄÖåäö", min_size=1, max_size=35).map(str.strip)),
                "line": 0,
            }
        )  # fmt: skip
    return payments_frame(rows)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_payments())
def test_files_written_by_the_format_engine_read_back_identical(frame):
    data = write_bgmax(frame, payee_bankgiro="9912346", written_at=datetime.datetime(2026, 3, 2, 4))
    back = read_bgmax(data, "written.txt")
    assert back.control_count == len(frame)
    assert back.control_amount == frame["amount"].sum()
    # the reader lists payments deposit by deposit; the writer groups them in order of appearance
    key = ["payee_account", "payment_date", "currency"]
    expected = frame.assign(_order=range(len(frame)))
    groups = {k: i for i, k in enumerate(dict.fromkeys(map(tuple, frame[key].to_numpy())))}
    expected["_group"] = [groups[tuple(r)] for r in frame[key].to_numpy()]
    expected = expected.sort_values(["_group", "_order"]).drop(columns=["_group", "_order", "line"])
    assert (back.payments["payee_giro"] == "9912346").all()  # the openings' payee bankgiro
    assert (
        back.payments.drop(columns=["line", "payee_giro"])
        .reset_index(drop=True)
        .equals(expected.drop(columns=["payee_giro"]).reset_index(drop=True))
    )
