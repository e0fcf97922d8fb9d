"""Bad files and bad frames give a FormatError naming the file, the line and the field."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from inkasso.formats import FormatError, load_layout

NAME = "LS400123_20261122.txt"
HEADER = {
    "customer_no": "400123",
    "client_name": "Fjordkraft Åsane AS",
    "client_org_no": "912345678",
    "file_date": dt.date(2026, 11, 22),
    "currency": "NOK",
}


def case(case_id: int, remaining: int = 12_345) -> dict:
    return {
        "case_id": case_id,
        "invoice_no": f"F{case_id}",
        "debtor_no": "K77",
        "debtor_name": "Kåre Ødegård",
        "debtor_type": "P",
        "national_id": "01017012345",
        "street": "Bjørnstjerne Bjørnsons gate 1",
        "postcode": "0150",
        "city": "Oslo",
        "country": "NO",
        "invoice_date": dt.date(2026, 9, 1),
        "due_date": dt.date(2026, 9, 15),
        "original_amount": 20_000,
        "remaining_amount": remaining,
        "currency": "NOK",
        "kid": "000123456789",
        "reminder_count": 2,
    }


@pytest.fixture
def lowell():
    return load_layout("lowell.new_cases")


@pytest.fixture
def lines(lowell) -> list[bytes]:
    """A good Lowell file (header, 3 cases, trailer) as lines without CR LF."""
    data = lowell.write(HEADER, [case(1), case(2), case(3)])
    return data.split(b"\r\n")[:-1]


def join(lines: list[bytes]) -> bytes:
    return b"\r\n".join(lines) + b"\r\n"


def put(line: bytes, start: int, text: bytes) -> bytes:
    """``line`` with ``text`` written at 1-based ``start``."""
    return line[: start - 1] + text + line[start - 1 + len(text) :]


def read_error(layout, data: bytes, name: str = NAME) -> FormatError:
    with pytest.raises(FormatError) as caught:
        layout.read(data, name)
    return caught.value


def test_good_file_reads(lowell, lines):
    parsed = lowell.read(join(lines), NAME)
    assert parsed.header["client_name"] == "Fjordkraft Åsane AS"
    assert parsed.trailer == {"record_count": 3, "amount_total": 3 * 12_345}
    assert parsed.details()["case_id"].tolist() == [1, 2, 3]
    assert [r.line for r in parsed.records] == [1, 2, 3, 4, 5]


def test_non_numeric_amount_names_line_and_field(lowell, lines):
    # remaining_amount is at 224-236 (13 wide)
    lines[2] = put(lines[2], 224, b"000000000012x4")
    err = read_error(lowell, join(lines))
    assert (err.line, err.field) == (3, "remaining_amount")
    assert str(err) == f"{NAME} line 3 field remaining_amount: not an amount: '000000000012x'"
    assert isinstance(err, ValueError)


def test_wrong_line_length(lowell, lines):
    lines[1] = lines[1] + b"   X"
    err = read_error(lowell, join(lines))
    assert err.line == 2 and "wrong line length: 304 characters, expected 300" in err.reason


def test_truncated_line(lowell, lines):
    lines[3] = lines[3][:150]
    err = read_error(lowell, join(lines))
    assert err.line == 4 and "truncated line: 150 characters, expected 300" in err.reason


def test_unknown_record_type(lowell, lines):
    lines[2] = b"55" + lines[2][2:]
    err = read_error(lowell, join(lines))
    assert (err.line, err.field) == (3, "record_type")
    assert "unknown record type '55'" in err.reason


def test_bad_date(lowell, lines):
    lines[1] = put(lines[1], 195, b"20261341")  # invoice_date
    err = read_error(lowell, join(lines))
    assert (err.line, err.field) == (2, "invoice_date")
    assert "not a date (%Y%m%d): '20261341'" in err.reason


def test_missing_required_value_exact_line(lowell, lines):
    lines[3] = put(lines[3], 50, b" " * 50)
    err = read_error(lowell, join(lines))
    assert str(err) == f"{NAME} line 4 field debtor_name: missing required value"


def test_trailer_count_mismatch(lowell, lines):
    lines[4] = put(lines[4], 3, b"000000004")
    err = read_error(lowell, join(lines))
    assert (err.line, err.field) == (5, "record_count")
    assert "trailer says 4, the file has 3" in err.reason


def test_trailer_total_mismatch(lowell, lines):
    lines[4] = put(lines[4], 12, b"000000000037036")
    err = read_error(lowell, join(lines))
    assert (err.line, err.field) == (5, "amount_total")
    assert "trailer says 37036, the file has 37035" in err.reason


def test_missing_trailer(lowell, lines):
    err = read_error(lowell, join(lines[:-1]))
    assert err.line == 4 and err.reason.startswith("missing trailer")


def test_missing_header(lowell, lines):
    err = read_error(lowell, join(lines[1:]))
    assert err.line == 1 and err.reason.startswith("missing header")


def test_empty_file(lowell):
    err = read_error(lowell, b"")
    assert str(err) == f"{NAME}: empty file: no records"


def test_crlf_expected(lowell, lines):
    err = read_error(lowell, b"\n".join(lines) + b"\n")
    assert err.line == 1 and "CR LF" in err.reason


def test_bad_encoding_names_the_line():
    intrum = load_layout("intrum.new_cases")
    data = intrum.write(HEADER, [case(1), case(2)])
    bad = data.replace("Kåre".encode(), "Kåre".encode("iso-8859-1"), 2)
    err = read_error(intrum, bad, "intrum.csv")
    # line 1 is the column names, 2 the header, 3 and 4 the cases
    assert err.line == 3 and "not valid utf-8" in err.reason


def test_delimited_errors_name_line_and_field():
    intrum = load_layout("intrum.new_cases")
    text = intrum.write(HEADER, [case(1), case(2)]).decode()
    lines = text.split("\n")
    assert lines[0].startswith("record_type;case_id;invoice_no")
    cells = lines[3].split(";")
    cells[14] = "12x4"  # remaining_amount
    lines[3] = ";".join(cells)
    err = read_error(intrum, "\n".join(lines).encode(), "intrum.csv")
    assert str(err) == "intrum.csv line 4 field remaining_amount: not an amount: '12x4'"
    short = text.split("\n")
    short[2] = ";".join(short[2].split(";")[:5])
    err = read_error(intrum, "\n".join(short).encode(), "intrum.csv")
    assert err.line == 3 and "truncated line: 5 columns, expected 17" in err.reason


# ------------------------------------------------------------------------------ writing


def test_value_too_wide_names_row_and_field(lowell):
    rows = [case(1), case(2)]
    rows[1]["invoice_no"] = "X" * 21
    with pytest.raises(FormatError) as caught:
        lowell.write(HEADER, pd.DataFrame(rows))
    err = caught.value
    assert (err.row, err.field, err.line) == (1, "invoice_no", 3)
    assert "does not fit width 20" in err.reason


def test_amount_too_large_is_refused_not_truncated(lowell):
    rows = [case(1, remaining=10**13)]
    with pytest.raises(FormatError, match="field remaining_amount: '10000000000000' does not fit"):
        lowell.write(HEADER, rows)


def test_float_money_column_is_refused(lowell):
    frame = pd.DataFrame([case(1), case(2)])
    frame["remaining_amount"] = frame["remaining_amount"].astype(float)
    with pytest.raises(FormatError, match="remaining_amount: float column"):
        lowell.write(HEADER, frame)


def test_float_in_row_dicts_is_refused(lowell):
    rows = [case(1), case(2)]
    rows[1]["original_amount"] = 200.0
    with pytest.raises(FormatError) as caught:
        lowell.write(HEADER, rows)
    assert (caught.value.row, caught.value.field) == (1, "original_amount")


def test_unencodable_letter_names_line_and_field(lowell):
    rows = [case(1), case(2)]
    rows[1]["city"] = "Oslo €"
    with pytest.raises(FormatError) as caught:
        lowell.write(HEADER, rows)
    assert (caught.value.line, caught.value.field) == (3, "city")


def test_line_break_in_text_is_refused(lowell):
    rows = [case(1), case(2), case(3)]
    rows[2]["street"] = "Storgata 1\nOslo"
    with pytest.raises(FormatError) as caught:
        lowell.write(HEADER, rows)
    assert (caught.value.line, caught.value.field, caught.value.row) == (4, "street", 2)


def test_value_not_allowed(lowell):
    rows = [case(1)]
    rows[0]["debtor_type"] = "X"
    with pytest.raises(FormatError, match="debtor_type: 'X' is not one of"):
        lowell.write(HEADER, rows)


def test_missing_required_column(lowell):
    frame = pd.DataFrame([case(1)]).drop(columns=["kid", "debtor_name"])
    with pytest.raises(FormatError, match="missing column 'debtor_name'"):
        lowell.write(HEADER, frame)


def test_write_computes_the_trailer(lowell):
    frame = pd.DataFrame([case(1, 100), case(2, 0), case(3, 99_999)])
    parsed = lowell.read(lowell.write(HEADER, frame), NAME)
    assert parsed.trailer == {"record_count": 3, "amount_total": 100_099}


def test_dates_as_iso_strings_and_timestamps(lowell):
    rows = [case(1), case(2)]
    rows[0]["invoice_date"] = "2026-09-01"
    frame = pd.DataFrame(rows)
    frame["due_date"] = pd.to_datetime(frame["due_date"])
    details = lowell.read(lowell.write(HEADER, frame), NAME).details()
    assert details["invoice_date"].tolist() == [dt.date(2026, 9, 1)] * 2
    assert details["due_date"].tolist() == [dt.date(2026, 9, 15)] * 2


def test_signed_amounts_in_corrections():
    layout = load_layout("lowell.corrections")
    header = {"customer_no": "400123", "file_date": dt.date(2026, 11, 22)}
    rows = [
        {"case_id": 1, "agency_case_ref": "L-1", "invoice_no": "F1", "correction_type": "DP",
         "amount": 5_000, "correction_date": dt.date(2026, 11, 21)},
        {"case_id": 2, "agency_case_ref": "L-2", "invoice_no": "F2", "correction_type": "CN",
         "amount": -1_250, "correction_date": dt.date(2026, 11, 21)},
    ]  # fmt: skip
    parsed = layout.read(layout.write(header, rows), "RD.txt")
    assert parsed.details()["amount"].tolist() == [5_000, -1_250]
    assert parsed.trailer["amount_total"] == 3_750
