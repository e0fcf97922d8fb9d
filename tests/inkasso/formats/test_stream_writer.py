"""StreamWriter: a file written chunk by chunk has the same bytes as the file written at once,
for every new-case layout, and an error in a later chunk names the line in the whole file."""

from __future__ import annotations

import io
from datetime import date

import pandas as pd
import pytest

from inkasso.formats import FormatError, list_layouts, load_layout
from inkasso.formats.writer import StreamWriter

HEADER = {
    "customer_no": "40012",
    "client_name": "Nordlys Energi AS",
    "client_org_no": "912345678",
    "file_date": date(2026, 11, 2),
    "currency": "NOK",
    "payback_account": "12345678903",
}


def details(n: int) -> pd.DataFrame:
    """``n`` new-case rows with every field a new-case layout may have."""
    return pd.DataFrame(
        {
            "case_id": range(1, n + 1),
            "invoice_no": [f"F{i:05d}" for i in range(n)],
            "debtor_no": [str(1000 + i) for i in range(n)],
            "debtor_name": [f"Kåre Ødegård {i}" for i in range(n)],
            "debtor_type": ["P", "O"] * (n // 2) + ["P"] * (n % 2),
            "national_id": ["01017012345"] * n,
            "street": ["Storgata 1"] * n,
            "postcode": ["0150"] * n,
            "city": ["Oslo"] * n,
            "country": ["NO"] * n,
            "invoice_date": [date(2026, 9, 1)] * n,
            "due_date": [date(2026, 9, 15)] * n,
            "original_amount": [10_000 + i for i in range(n)],
            "remaining_amount": [9_000 + i for i in range(n)],
            "currency": ["NOK"] * n,
            "kid": [f"{i:010d}" for i in range(n)],
            "reminder_count": [1] * n,
        }
    )


@pytest.mark.parametrize("name", [n for n in list_layouts() if n.endswith(".new_cases")])
def test_chunks_give_the_same_bytes_as_one_write(name):
    layout = load_layout(name)
    frame = details(7)
    out = io.BytesIO()
    writer = StreamWriter(layout, out, HEADER)
    for start in range(0, 7, 3):
        writer.append(frame.iloc[start : start + 3])
    size = writer.finish()
    assert out.getvalue() == layout.write(HEADER, frame)
    assert size == len(out.getvalue())


def test_an_error_in_a_later_chunk_names_the_line_in_the_file():
    layout = load_layout("lowell.new_cases")
    frame = details(6)
    frame.loc[4, "debtor_name"] = "x" * 200  # too wide
    writer = StreamWriter(layout, io.BytesIO(), HEADER)
    writer.append(frame.iloc[:3])
    with pytest.raises(FormatError) as err:
        writer.append(frame.iloc[3:])
    assert (err.value.line, err.value.field, err.value.row) == (6, "debtor_name", 4)
