"""A text field with ``pad: "0"``: a zero-filled code such as a bankgiro number.

Written right-aligned and zero-filled, read without its leading zeros (all zeros read as
blank), on the quick path (whole columns of bytes) and the careful one alike.
"""

from __future__ import annotations

import pandas as pd
import pytest

from conftest import PROJECT_ROOT
from inkasso.bank.bgmax import read_bgmax
from inkasso.formats.errors import FormatError, LayoutError
from inkasso.formats.layout import layout_from_dict


def _layout(encoding="iso-8859-1", **field):
    return layout_from_dict(
        {
            "name": "zero_filled",
            "kind": "fixed",
            "encoding": encoding,
            "line_ending": "lf",
            "records": {
                "d": {
                    "code": "10",
                    "fields": [
                        {"name": "giro", "start": 3, "width": 8, "align": "right", "pad": "0"}
                        | field,
                        {"name": "note", "start": 11, "width": 4},
                    ],
                }
            },
        }
    )


def _write_read(layout, giros):
    frame = pd.DataFrame({"giro": giros, "note": ["x"] * len(giros)})
    data = layout.write(None, frame, detail_type="d")
    return data, layout.read(data, "f.txt").frame("d")["giro"].tolist()


def test_written_zero_filled_and_read_without_the_zeros():
    data, back = _write_read(_layout(), ["1234567", "0099", "", "AB 12"])
    assert data.splitlines() == [
        b"1001234567x   ",
        b"1000000099x   ",
        b"1000000000x   ",
        b"10000AB 12x   ",
    ]
    assert back == ["1234567", "99", "", "AB 12"]


def test_the_careful_path_fills_and_reads_the_same():
    # a letter beyond ISO-8859-1 in UTF-8 takes the careful path (a matrix of code points)
    data, back = _write_read(_layout("utf-8"), ["Ω12", "0007", ""])
    assert data.decode("utf-8").splitlines() == [
        "1000000Ω12x   ",
        "1000000007x   ",
        "1000000000x   ",
    ]
    assert back == ["Ω12", "7", ""]


def test_few_distinct_values_read_without_the_zeros_too():
    # thousands of rows sharing a few values go the shared-strings path
    giros = ["0001", "0002", "42"] * 3000
    _data, back = _write_read(_layout(), giros)
    assert back == ["1", "2", "42"] * 3000


def test_a_required_code_of_all_zeros_is_missing():
    layout = _layout(required=True)
    with pytest.raises(FormatError) as err:
        layout.read(b"1000000000x   \n1000001234y   \n", "f.txt")
    assert (err.value.line, err.value.field) == (1, "giro")
    assert "missing" in str(err.value)


def test_a_zero_filled_text_must_be_right_aligned():
    with pytest.raises(LayoutError, match="right-aligned"):
        _layout(align="left")


def test_bgmax_payer_bankgiro_read_without_zeros_from_bankgirots_own_file():
    folder = PROJECT_ROOT.parent / "shared" / "reference"
    files = sorted(p for p in folder.rglob("*") if p.is_file() and "bgmax" in p.name.lower())
    assert files, folder
    payers = []
    for path in files:
        try:
            payments = read_bgmax(path.read_bytes(), path.name).payments
        except Exception:  # (a reference file made to be refused)
            continue
        payers += payments["payer_account"].tolist()
    assert payers and all(not p.startswith("0") for p in payers)
    assert any(p for p in payers)
