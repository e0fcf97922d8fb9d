"""OCR giro reading: the Nets reference files, broken copies of them, and netsgiro-written files."""

from __future__ import annotations

import datetime
from decimal import Decimal

import netsgiro
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.bank.model import PAYMENT_COLUMNS, BankFileError
from inkasso.bank.ocr_giro import read_ocr_giro

NAME = "OCR.20260112.txt"


@pytest.fixture
def ocr_lines(reference_dir) -> list[str]:
    """The lines of the Nets OCR giro sample with transactions."""
    return (
        (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt")
        .read_bytes()
        .decode("iso-8859-1")
        .splitlines()
    )


def _stated(line: str) -> tuple[int, int, int]:
    """Number of transactions, number of records and total øre of a raw end record (88 or 89)."""
    return int(line[8:16]), int(line[16:24]), int(line[24:41])


def _read(lines: list[str]):
    return read_ocr_giro(("\n".join(lines) + "\n").encode("iso-8859-1"), NAME)


def _rejected(lines: list[str]) -> BankFileError:
    with pytest.raises(BankFileError) as caught:
        _read(lines)
    assert NAME in str(caught.value)
    assert f"line {caught.value.line}" in str(caught.value)
    return caught.value


def test_transactions_sample_reads_to_what_its_end_record_states(ocr_lines):
    end = next(line for line in ocr_lines if line.startswith("NY000089"))
    count, records, total = _stated(end)

    bank_file = _read(ocr_lines)

    assert bank_file.is_payments and bank_file.format == "ocr_giro"
    assert records == len(ocr_lines)
    assert len(bank_file.payments) == count == bank_file.control_count == 20
    assert bank_file.payments["amount"].sum() == total == bank_file.control_amount == 5_144_900
    assert tuple(bank_file.payments.columns) == PAYMENT_COLUMNS
    assert str(bank_file.payments["amount"].dtype) == "int64"
    assert all(type(amount) is int for amount in bank_file.payments["amount"].tolist())
    assert (bank_file.payments["reference"].str.fullmatch(r"\d+")).all()
    assert bank_file.payments["payment_ref"].is_unique


def test_transactions_sample_first_payment_in_detail(ocr_lines):
    first = _read(ocr_lines).payments.iloc[0].to_dict()

    assert first == {
        "payment_ref": "0000002-0000001",
        "payer_account": "99990512341",
        "reference": "0000531",
        "amount": 102_000,  # 1020.00 NOK
        "payment_date": datetime.date(1992, 1, 20),
        "payee_account": "99991042764",
        "payee_giro": "",
        "currency": "NOK",
        "payer_name": "",
        "line": 3,
    }


@pytest.mark.parametrize(
    ("file_name", "kind"),
    [
        ("avtalegiro_agreements.txt", "avtalegiro_agreements"),
        ("avtalegiro_payment_request.txt", "avtalegiro_payment_requests"),
    ],
)
def test_avtalegiro_files_are_recognised_and_never_payments(reference_dir, file_name, kind):
    data = (reference_dir / "ocr-giro" / file_name).read_bytes()
    count, _, total = _stated(data.decode("iso-8859-1").splitlines()[-1])

    bank_file = read_ocr_giro(data, file_name)

    assert bank_file.kind == kind
    assert not bank_file.is_payments
    assert bank_file.payments.empty
    assert (bank_file.control_count, bank_file.control_amount) == (count, total)


def test_avtalegiro_agreements_inside_a_payment_file_are_not_payments(reference_dir, ocr_lines):
    agreements = (
        (reference_dir / "ocr-giro" / "avtalegiro_agreements.txt")
        .read_text("iso-8859-1")
        .splitlines()
    )
    assignment = agreements[1:-1]
    assignment[0] = assignment[0][:17] + "0000003" + assignment[0][24:]  # a number of its own
    count, records, total = _stated(ocr_lines[-1])
    end = (
        ocr_lines[-1][:8] + f"{count + 16:08d}{records + len(assignment):08d}" + ocr_lines[-1][24:]
    )

    bank_file = _read(ocr_lines[:-1] + assignment + [end])

    assert bank_file.is_payments
    assert len(bank_file.payments) == bank_file.control_count == count
    assert bank_file.payments["amount"].sum() == bank_file.control_amount == total


def test_transmission_end_with_another_total_is_rejected(ocr_lines):
    end = ocr_lines[-1]
    ocr_lines[-1] = end[:24] + f"{_stated(end)[2] + 1:017d}" + end[41:]

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (45, "total_amount")


def test_assignment_end_with_another_count_is_rejected(ocr_lines):
    end = ocr_lines[-2]
    ocr_lines[-2] = end[:8] + f"{_stated(end)[0] - 1:08d}" + end[16:]

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (44, "num_transactions")


def test_changed_amount_in_the_body_is_caught_by_the_assignment_end(ocr_lines):
    line = ocr_lines[5]  # amount item 1 of transaction 2
    ocr_lines[5] = line[:32] + f"{int(line[32:49]) + 100:017d}" + line[49:]

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (44, "total_amount")
    assert "states 5144900, the body holds 5145000" in error.reason


def test_missing_transaction_is_caught_by_the_assignment_end(ocr_lines):
    del ocr_lines[5:7]  # transaction 2, both records

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (42, "num_transactions")


def test_truncated_record_is_rejected(ocr_lines):
    ocr_lines[24] = ocr_lines[24][:56]

    error = _rejected(ocr_lines)

    assert error.line == 25
    assert "56 characters" in str(error)


def test_non_digit_in_an_amount_is_rejected(ocr_lines):
    line = ocr_lines[6 - 1]
    ocr_lines[5] = line[:44] + "x" + line[45:]

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (6, "amount")
    assert str(error).startswith(f"{NAME} line 6 field amount: not a number")


def test_impossible_date_is_rejected(ocr_lines):
    ocr_lines[2] = ocr_lines[2][:15] + "320192" + ocr_lines[2][21:]

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (3, "nets_date")


def test_missing_transmission_end_is_rejected(ocr_lines):
    error = _rejected(ocr_lines[:-1])

    assert (error.line, error.field) == (44, "record_type")
    assert "transmission end record (89) is missing" in error.reason


def test_missing_assignment_end_is_rejected(ocr_lines):
    del ocr_lines[-2]

    error = _rejected(ocr_lines)

    assert error.line == 44
    assert "started on line 2 has no end record" in error.reason


def test_amount_item_2_missing_is_rejected(ocr_lines):
    del ocr_lines[6]  # amount item 2 of transaction 2, line 7

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (6, "record_type")


def test_records_out_of_order_are_rejected(ocr_lines):
    ocr_lines[5], ocr_lines[6] = ocr_lines[6], ocr_lines[5]  # amount item 2 before item 1

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (6, "transaction_number")


def test_non_zero_filler_is_rejected(ocr_lines):
    ocr_lines[3] = ocr_lines[3][:75] + "1" + ocr_lines[3][76:]

    error = _rejected(ocr_lines)

    assert (error.line, error.field) == (4, "filler")


def test_windows_line_ends_read_the_same(ocr_lines):
    crlf = read_ocr_giro("\r\n".join(ocr_lines).encode("iso-8859-1"), NAME)

    assert crlf.payments.equals(_read(ocr_lines).payments)


def test_empty_file_is_rejected():
    with pytest.raises(BankFileError, match=f"^{NAME}: the file is empty"):
        read_ocr_giro(b"\n", NAME)


# --- netsgiro writes, we read back -------------------------------------------------------------

_DATES = st.dates(datetime.date(2000, 1, 1), datetime.date(2068, 12, 31))  # DDMMYY round-trips


def _digits(length: int):
    return st.text("0123456789", min_size=length, max_size=length)


@st.composite
def _transactions(draw, number: int) -> netsgiro.Transaction:
    kind = draw(st.integers(10, 21))
    return netsgiro.Transaction(
        service_code=netsgiro.ServiceCode.OCR_GIRO,
        type=kind,
        number=number,
        date=draw(_DATES),
        amount=Decimal(draw(st.integers(0, 10**13))) / 100,
        kid=draw(st.text("0123456789", min_size=2, max_size=25)),
        reference=draw(_digits(9)),
        text=draw(st.text("abc æøåÆØÅ-12", max_size=40)) if kind in (20, 21) else None,
        centre_id=draw(_digits(2)),
        day_code=draw(st.integers(0, 99)),
        partial_settlement_number=draw(st.integers(0, 9)),
        partial_settlement_serial_number=draw(_digits(5)),
        sign="0",
        form_number=draw(_digits(10)),
        bank_date=draw(st.none() | _DATES),
        debit_account=draw(st.just("00000000000") | _digits(11)),
        filler=None,
    )


@st.composite
def _transmissions(draw) -> netsgiro.Transmission:
    transmission = netsgiro.Transmission(
        number=draw(_digits(7)),
        data_transmitter=draw(_digits(8)),
        data_recipient=draw(_digits(8)),
        date=draw(_DATES),
    )
    for index in range(draw(st.integers(0, 3))):
        assignment = transmission.add_assignment(
            service_code=netsgiro.ServiceCode.OCR_GIRO,
            assignment_type=netsgiro.AssignmentType.TRANSACTIONS,
            agreement_id=draw(_digits(9)),
            number=f"{index + 1:07d}",
            account=draw(_digits(11)),
            date=transmission.date,
        )
        for number in range(1, draw(st.integers(1, 6)) + 1):
            assignment.transactions.append(draw(_transactions(number)))
    return transmission


def _expected_payments(transmission: netsgiro.Transmission) -> list[dict]:
    """The payments the reader must find, with their lines counted from the record layout."""
    rows, line = [], 1
    for assignment in transmission.assignments:
        line += 1
        for transaction in assignment.transactions:
            line += 1
            cents = int(transaction.amount * 100)
            rows.append(
                {
                    "payment_ref": f"{assignment.number}-{transaction.number:07d}",
                    "payer_account": ""
                    if transaction.debit_account == "00000000000"
                    else transaction.debit_account,
                    "reference": transaction.kid,
                    "amount": -cents if transaction.type in (18, 20) else cents,
                    "payment_date": transaction.date,
                    "payee_account": assignment.account,
                    "payee_giro": "",
                    "currency": "NOK",
                    "payer_name": "",
                    "line": line,
                }
            )
            line += 2 if transaction.type in (20, 21) else 1
        line += 1
    return rows


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_transmissions())
def test_netsgiro_written_transmissions_read_back_the_same_payments(transmission):
    data = transmission.to_ocr().encode("iso-8859-1")
    expected = _expected_payments(transmission)

    bank_file = read_ocr_giro(data, NAME)

    assert bank_file.payments.to_dict("records") == expected
    assert bank_file.control_count == len(expected)
    assert bank_file.control_amount == sum(abs(row["amount"]) for row in expected)
    assert bank_file.created == transmission.date
