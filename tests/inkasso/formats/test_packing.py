"""The writer's quick path (``packing``) against the careful path, value for value.

Whatever column a fixed-width field is given, the quick path either gives the very bytes the
careful path pads (``writer._careful_texts``) or declines (None), and it declines whenever the
careful path refuses a value, so that the error raised is always the careful path's own.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.formats.codec import FieldProblem
from inkasso.formats.errors import FormatError
from inkasso.formats.layout import layout_from_dict
from inkasso.formats.packing import field_matrix
from inkasso.formats.writer import _careful_texts, _points

LAYOUT = layout_from_dict(
    {
        "name": "packing",
        "kind": "fixed",
        "encoding": "iso-8859-1",
        "records": {"d": {"code": "10", "fields": [{"name": "x", "start": 3, "width": 1}]}},
    }
)
# blanks Python strips (NBSP, NEL, tab, ...), Nordic letters, a control character, a LF, a
# character beyond ISO-8859-1 and a NUL: the odd cases the quick path must leave alone
CHARS = "ab Z9-æøÅé\xa0\x85\t\x01\n€\x00"


def _fields(kind):
    """A field of ``kind`` whose rules vary (the usual ones more often)."""
    common = {
        "required": st.sampled_from([False, False, True]),
        "align": st.sampled_from(["left", "right"]),
    }
    if kind == "text":
        width = st.integers(1, 12)
        extra = {
            "const": st.sampled_from([None, None, None, "A", " A", "", "ab"]),
            "values": st.sampled_from([None, None, ("a", "b", "ab", "Z", "æ"), ("a", " b")]),
            "pad": st.sampled_from([" ", " ", "0"]),  # '0': a zero-filled code, right-aligned
        }
    elif kind == "date":
        width = st.sampled_from([6, 8, 10, 13])
        extra = {
            "format": st.sampled_from(["%Y%m%d", "%d%m%y", "%d.%m.%Y", "%Y-%m-%d %H"]),
            "values": st.sampled_from([None, None, ("20260101",)]),
            "const": st.sampled_from([None, None, "20260101"]),
        }
    else:
        width = st.integers(1, 12)
        extra = {
            "signed": st.booleans(),
            "decimals": st.sampled_from([0, 0, 2]),
            "decimal_separator": st.sampled_from([",", "."]),
            "pad": st.sampled_from(["0", "0", "0", " "]),
        }
    return st.fixed_dictionaries(
        {"name": st.just("x"), "type": st.just(kind), "start": st.just(3), "width": width}
        | common
        | extra
    )


def _field(raw):
    if raw["type"] == "text" and raw.get("pad") == "0":
        raw = raw | {"align": "right"}
    rec = layout_from_dict(
        {
            "name": "packing",
            "kind": "fixed",
            "encoding": "iso-8859-1",
            "records": {"d": {"code": "10", "fields": [raw]}},
        }
    )
    return rec.records["d"].fields[0]


PLAIN = "ab Z9-æøÅé"
ALPHABETS = st.sampled_from([PLAIN, PLAIN + "\xa0\x85\t", CHARS])
NUMBERS = st.one_of(st.integers(0, 999), st.integers(0, 999), st.integers(-(10**12), 10**12))
DAYS = st.dates(dt.date(1990, 1, 1), dt.date(2030, 12, 31))
DATES = st.one_of(DAYS, DAYS, st.none())


def _columns(kind):
    if kind == "text":
        codes = st.lists(st.sampled_from(["a", "b", "ab", " a ", "Z", "æ", "", "\xa0b\t"]))
        odd = st.one_of(st.none(), st.text(CHARS, max_size=8), st.integers(-5, 5))
        texts = ALPHABETS.flatmap(
            lambda a: st.lists(odd if a == CHARS else st.text(a, max_size=8), max_size=12)
        )
        values = st.one_of(codes, codes, texts)
        return values.flatmap(
            lambda v: st.sampled_from([pd.Series(v, dtype=object), pd.Series(v, dtype="str")])
        )
    if kind == "date":
        dates = st.lists(DATES, max_size=12)
        return dates.flatmap(
            lambda v: st.sampled_from(
                [pd.Series(v, dtype=object), pd.to_datetime(pd.Series(v, dtype=object))]
            )
        )
    numbers = st.lists(NUMBERS, max_size=12)
    return numbers.flatmap(
        lambda v: st.sampled_from(
            [
                pd.Series(v, dtype="int64"),
                pd.Series(v, dtype="int64"),
                pd.Series(v, dtype="Int64"),
                pd.Series(v, dtype=object),
            ]
        )
    )


def _careful(f, column):
    try:
        out = _careful_texts(LAYOUT, f, column)
    except (FieldProblem, FormatError):
        return "refused"
    if not isinstance(out, np.ndarray):
        return "strings"  # a NUL somewhere: Python's own str methods
    return _points(out, len(column), f.width)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(["text", "integer", "amount", "date"]).flatmap(
        lambda k: st.tuples(_fields(k), _columns(k))
    )
)
def test_quick_path_is_the_careful_path(case):
    raw, column = case
    f = _field(raw)
    quick = field_matrix(f, column)
    if quick is None:
        return
    if not len(column):  # (the writer skips a block of no records)
        assert quick.shape == (0, f.width)
        return
    careful = _careful(f, column)
    assert isinstance(careful, np.ndarray), (careful, quick)
    assert quick.dtype == np.uint8
    assert quick.shape == careful.shape
    assert (quick.astype(np.uint32) == careful).all()


def test_quick_path_takes_the_plain_columns():
    """The usual columns do go the quick way (the property above would hold if none did)."""
    text = _field({"name": "x", "type": "text", "start": 3, "width": 6, "values": ["a b", "æ"]})
    got = field_matrix(text, pd.Series(["  a b ", "æ", None, ""], dtype="str"))
    assert got.tobytes() == b"a b   \xe6                 "
    amount = _field(
        {"name": "x", "type": "amount", "start": 3, "width": 7, "signed": True, "decimals": 2}
    )
    got = field_matrix(amount, pd.Series([-1234, 5, 0]))
    assert got.tobytes() == b"-012,34" + b"0000,05" + b"0000,00"
    day = _field({"name": "x", "type": "date", "start": 3, "width": 10, "align": "right"})
    got = field_matrix(day, pd.Series([dt.date(2026, 1, 2), None]))
    assert got.tobytes() == b"  20260102" + b" " * 10
