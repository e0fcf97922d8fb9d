"""unwritable_values: every row a layout cannot carry, with field and character, the rest clean."""

from __future__ import annotations

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

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


# one clean column is judged by a whole-column test; it must never pass a value the careful
# per-value path refuses, on any layout of any agency
_ALPHABET = "aZ 9;|,\t\n\x00\x7f€ÅÖœ\u2003-."


def _careful(layout, details):
    from inkasso.formats import writer

    fast = writer._surely_writable
    writer._surely_writable = lambda *args: False
    try:
        return unwritable_values(layout, details)
    finally:
        writer._surely_writable = fast


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    layout_name=st.sampled_from(["lowell.new_cases", "svea.new_cases", "intrum.new_cases"]),
    values=st.one_of(
        st.lists(st.text(alphabet=_ALPHABET, max_size=60), min_size=1, max_size=8),
        st.lists(
            st.one_of(st.none(), st.text(alphabet=_ALPHABET, max_size=60), st.integers(0, 9)),
            min_size=1,
            max_size=8,
        ),
    ),
)
def test_the_whole_column_test_agrees_with_the_per_value_reasons(layout_name, values):
    layout = load_layout(layout_name)
    codes = ["NOK", "SEK", " NOK", "XXX", "", None, "nok"]  # currency: a field with a list of codes
    details = pd.DataFrame(
        {
            "debtor_name": values,
            "invoice_no": ["1"] * len(values),
            "currency": [codes[len(str(v)) % len(codes)] for v in values],
        }
    )
    assert unwritable_values(layout, details).to_dict() == _careful(layout, details).to_dict()
