"""Dates read straight from their matrix of characters, against the path through stripped text.

The reader hands ``codec.from_text`` each field as a matrix of characters; a date field as wide
as its format is read from it directly (``_matrix_dates``). Whatever the cells hold, that gives
the values, or the error (reason and row), of stripping the cells and reading them as text.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.formats import codec
from inkasso.formats.codec import FieldProblem
from inkasso.formats.spec import Field

FORMATS = {"%Y%m%d": 8, "%d%m%y": 6, "%d.%m.%Y": 10}
CELL = "0123456789 .\xa0"


def _cells(width):
    dated = st.dates()
    plain = st.text(CELL, min_size=width, max_size=width)
    return st.lists(st.one_of(plain, st.just(" " * width), dated), min_size=1, max_size=10)


def _outcome(read):
    try:
        return "ok", read().tolist()
    except FieldProblem as problem:
        return "problem", problem.position, problem.reason


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(sorted(FORMATS)).flatmap(
        lambda fmt: st.tuples(st.just(fmt), st.booleans(), _cells(FORMATS[fmt]))
    ),
    st.booleans(),
)
def test_matrix_dates_read_as_the_text_path(case, wide):
    fmt, required, cells = case
    width = FORMATS[fmt]
    texts = [c.strftime(fmt) if not isinstance(c, str) else c for c in cells]
    texts = [t if len(t) == width else t[:width].ljust(width) for t in texts]
    field = Field(name="d", type="date", start=1, width=width, required=required, format=fmt)
    points = np.array([[ord(c) for c in t] for t in texts], dtype=np.uint32)
    matrix = points if wide or points.max() > 255 else points.astype(np.uint8)

    def careful():
        text = np.strings.strip(np.array(texts, dtype=str))
        empty = text == ""
        if field.required and empty.any():
            raise FieldProblem(int(np.flatnonzero(empty)[0]), "missing required value")
        return codec._date_in(field, text, empty)

    assert _outcome(lambda: codec.from_text(field, matrix)) == _outcome(careful)


def test_plain_dates_go_the_matrix_way():
    """A column of dates and blanks is read from the matrix (the property holds either way)."""
    field = Field(name="d", type="date", start=1, width=8, format="%Y%m%d")
    matrix = np.frombuffer(b"20261122        20240229", dtype=np.uint8).reshape(3, 8)
    got = codec._matrix_dates(field, matrix)
    assert got.tolist() == [dt.date(2026, 11, 22), None, dt.date(2024, 2, 29)]
