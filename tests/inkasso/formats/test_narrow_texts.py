"""Narrow text fields with few distinct values (codes, flags, currencies), read from their matrix
of bytes one distinct value at a time, against the path through the whole column as text.

Whatever the cells hold, the values (and their pandas "str" dtype) or the error (reason and row)
are those of stripping every cell and reading it as text.
"""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.formats import codec
from inkasso.formats.codec import FieldProblem
from inkasso.formats.spec import Field

CELL = "AB1 \xa0\x85\x1f\x00\t\xe5"  # letters, blanks (NBSP, NEL, US, tab too), a NUL, å


def _outcome(read):
    try:
        values = read()
        return "ok", str(values.dtype), values.tolist()
    except FieldProblem as problem:
        return "problem", problem.position, problem.reason


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.integers(1, 30).flatmap(
        lambda width: st.tuples(
            st.just(width),
            st.lists(st.text(CELL, min_size=width, max_size=width), min_size=1, max_size=4),
        )
    ),
    st.lists(st.integers(0, 3), min_size=1, max_size=120),
    st.booleans(),
    st.sampled_from([None, "A", "AB"]),
    st.sampled_from([None, ["A", "B1"], ["1"]]),
)
def test_narrow_texts_read_as_the_text_path(case, picks, required, const, values):
    width, pool = case
    texts = [pool[i % len(pool)] for i in picks]
    field = Field(
        name="t", type="text", start=1, width=width, required=required, const=const, values=values
    )
    matrix = np.array([[ord(c) for c in t] for t in texts], dtype=np.uint8)
    # the same cells as code points take the path of every other column
    assert _outcome(lambda: codec.from_text(field, matrix)) == _outcome(
        lambda: codec.from_text(field, matrix.astype(np.uint32))
    )


def test_a_column_of_one_repeated_code_reads_as_its_text():
    matrix = np.array([[ord(c) for c in "SEK "]] * 50, dtype=np.uint8)
    field = Field(name="currency", type="text", start=1, width=4)
    values = codec.from_text(field, matrix)
    assert str(values.dtype) == "str"
    assert values.tolist() == ["SEK"] * 50


def test_two_values_with_the_same_key_read_apart():
    # 16 bytes are keyed as two 8-byte words mixed into one; these two share their key
    same_key = ["AAAAAAAAzzzzzzzz", "BAAAAAAA/xzzz{zz"]
    texts = [same_key[i % 2] for i in range(40)]
    matrix = np.array([[ord(c) for c in t] for t in texts], dtype=np.uint8)
    field = Field(name="t", type="text", start=1, width=16)
    assert codec.from_text(field, matrix).tolist() == texts


def test_a_long_column_names_the_row_of_its_first_bad_value():
    texts = ["SEK "] * 6000
    texts[4500] = "XX  "
    texts[5000] = "YY  "
    matrix = np.array([[ord(c) for c in t] for t in texts], dtype=np.uint8)
    field = Field(name="currency", type="text", start=1, width=4, values=["SEK", "NOK"])
    problem = _outcome(lambda: codec.from_text(field, matrix))
    assert problem == ("problem", 4500, "'XX' is not one of ['NOK', 'SEK']")
    distinct = np.array([[ord(c) for c in f"{i:>6}"] for i in range(6000)], dtype=np.uint8)
    values = codec.from_text(Field(name="n", type="text", start=1, width=6), distinct)
    assert values.tolist() == [str(i) for i in range(6000)]
