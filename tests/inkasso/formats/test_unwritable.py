"""unwritable_values: every row a layout cannot carry, with field and character, the rest clean."""

from __future__ import annotations

import pandas as pd

from inkasso.formats import load_layout
from inkasso.formats.writer import unwritable_values


def names(*values):
    return pd.DataFrame({"debtor_name": list(values), "invoice_no": ["1"] * len(values)})


def test_each_bad_row_named_with_field_and_character_clean_rows_left_out():
    lowell = load_layout("lowell.new_cases")  # fixed width, ISO-8859-1, name 50 wide
    found = unwritable_values(
        lowell, names("Ørjan Æsøy", "Kari € Nordmann", "X" * 51, "Tab\tNavn", "Ole Ås")
    )
    assert found.to_dict() == {
        1: "debtor_name: '€' not in ISO-8859-1",
        2: "debtor_name: longer than its 50 characters",
        3: "debtor_name: control character '\\t'",
    }


def test_the_same_name_is_writable_where_the_encoding_has_it_but_not_with_the_delimiter():
    svea = load_layout("svea.new_cases")  # delimited ';', UTF-8
    found = unwritable_values(svea, names("Kari € Nordmann", "Anna;Berg", "Per Persson"))
    assert found.to_dict() == {1: "debtor_name: ';' is the file's delimiter"}
    assert unwritable_values(svea, names("Per Persson")).empty
