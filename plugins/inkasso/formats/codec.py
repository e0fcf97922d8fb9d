"""Column-at-a-time conversion between values and their text in a file, for one field.

Each function takes a whole pandas Series (one field of every record of one type) and works with
vectorised string operations. A bad value raises ``FieldProblem`` with the 0-based position of
the first bad row; the reader and writer turn that into a ``FormatError`` naming file line and field.
"""

from __future__ import annotations

import datetime
import re

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

from inkasso.formats.bytecols import spaces
from inkasso.formats.spec import Field

_DIRECTIVES = {
    "%Y": ("year", 4),
    "%m": ("month", 2),
    "%d": ("day", 2),
    "%H": ("hour", 2),
    "%M": ("minute", 2),
    "%S": ("second", 2),
}


class FieldProblem(Exception):
    """The value at 0-based ``position`` of a column is bad for its field."""

    def __init__(self, position: int, reason: str) -> None:
        super().__init__(reason)
        self.position = int(position)
        self.reason = reason


# C0 control characters and DEL: no layout has a use for them in a field's text. A NUL in
# particular cannot be stored by PostgreSQL at all, so it must stop at the reader, on every
# database alike. A layout that really carries one would need its own field type.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")


def ascii_digits(text: str) -> bool:
    """True when ``text`` is one or more ASCII digits 0-9.

    ``str.isdigit()`` also accepts '²' (which ``int()`` refuses) and ``str.isdecimal()`` accepts
    Arabic-Indic or fullwidth digits (which ``int()`` takes): a file's numbers are ASCII only.
    """
    return text.isascii() and text.isdigit()


def control_character(text: str) -> str | None:
    """The first control character in ``text`` (as ``repr``, e.g. ``'\\x00'``), or None."""
    found = CONTROL_CHARACTERS.search(text)
    return repr(found.group())[1:-1] if found else None


def _first(mask: pd.Series | np.ndarray) -> int:
    """Position of the first True in a boolean mask."""
    return int(np.flatnonzero(np.asarray(mask, dtype=bool))[0])


def as_strings(series: pd.Series) -> pd.Series:
    """Any column as plain strings, missing values as ''."""
    if pd.api.types.is_string_dtype(series.dtype) and series.dtype != object:
        return series.fillna("") if series.hasnans else series
    obj = series.astype(object)
    missing = obj.isna()
    if missing.any():
        obj = obj.where(~missing, "")
    return obj.astype(str)


# --------------------------------------------------------------------------------------- writing


def to_text(field: Field, series: pd.Series) -> pd.Series:
    """The text of each value of ``series`` for ``field``, before padding (fixed) or joining."""
    out, cells = to_cells(field, series)
    if out is None:
        return pd.Series(cells.astype(object), index=series.index, dtype="str")
    return out


def to_cells(field: Field, series: pd.Series) -> tuple[pd.Series | None, np.ndarray | None]:
    """``to_text``'s texts, as a Series or (text fields numpy can hold) a numpy unicode array:
    one of the pair is None. The writer pads and lays out the arrays without Python strings."""
    if field.type == "text":
        return _text_out(field, series)
    if field.type in ("integer", "amount"):
        return _number_out(field, series)
    return _date_out(field, series), None


def check_common_out(field: Field, out: pd.Series | np.ndarray) -> pd.Series | np.ndarray:
    """Check a column of texts (a Series of str or a numpy ``<U`` array alike) against the
    field's constant, whether it is required and its allowed values; blanks take the constant."""
    series = isinstance(out, pd.Series)

    def at(pos: int) -> str:
        return out.iloc[pos] if series else str(out[pos])

    empty = out == ""
    if field.const is not None:
        wrong = ~empty & (out != field.const)
        if wrong.any():
            pos = _first(wrong)
            raise FieldProblem(pos, f"must be {field.const!r}, got {at(pos)!r}")
        out = out.where(~empty, field.const) if series else np.where(empty, field.const, out)
        empty = out == ""
    if field.required and empty.any():
        raise FieldProblem(_first(empty), "missing required value")
    if field.values is not None:
        allowed = (
            out.isin(field.values) if series else np.isin(out, np.array(field.values, dtype=str))
        )
        bad = ~empty & ~allowed
        if bad.any():
            pos = _first(bad)
            raise FieldProblem(pos, f"{at(pos)!r} is not one of {sorted(field.values)}")
    return out


def _text_out(field: Field, series: pd.Series) -> tuple[pd.Series | None, np.ndarray | None]:
    """(texts as a Series, None) or, when numpy can hold them, (None, a ``<U`` array)."""
    strings = as_strings(series)
    values = strings.tolist()
    if not values or "\x00" in "\x01".join(values):
        # a NUL (which a numpy unicode array cannot keep at a value's end): Python's strip
        return check_common_out(field, strings.str.strip()), None
    # numpy strips and checks the whole column at once
    return None, check_common_out(field, np.strings.strip(np.array(values, dtype=str)))


def exact_sum(column: pd.Series) -> int:
    """The sum of an integer column as a Python int (no int64 overflow, blanks skipped)."""
    if not pd.api.types.is_integer_dtype(column.dtype):  # Python ints, as written from dicts
        return sum(int(v) for v in column.dropna().tolist())
    values = column.dropna().to_numpy(dtype=np.int64)
    if not len(values) or int(np.abs(values).max()) < (1 << 62) // len(values):
        return int(values.sum())
    return sum(values.tolist())


def line_breaks(series: pd.Series) -> int | None:
    """Position of the first value holding a line break (the writer's slow path), or None."""
    breaks = as_strings(series).str.contains("[\r\n]", regex=True)
    return _first(breaks) if breaks.any() else None


def _number_out(field: Field, series: pd.Series) -> tuple[pd.Series | None, np.ndarray | None]:
    what = "amount" if field.type == "amount" else "integer"
    dtype = series.dtype
    if pd.api.types.is_float_dtype(dtype):
        raise FieldProblem(0, f"float column for {what} (money is integer øre, never float)")
    if pd.api.types.is_bool_dtype(dtype):
        raise FieldProblem(0, f"boolean column for {what}")
    if pd.api.types.is_integer_dtype(dtype):
        ints = series.astype("Int64")
    elif pd.api.types.is_object_dtype(dtype) or pd.api.types.is_string_dtype(dtype):
        kinds = series.map(lambda v: v is None or v is pd.NA or _is_int(v))
        if not kinds.all():
            pos = _first(~kinds)
            raise FieldProblem(pos, f"not an {what} (integer øre): {series.iloc[pos]!r}")
        ints = pd.array([None if v is None or v is pd.NA else int(v) for v in series], "Int64")
        ints = pd.Series(ints, index=series.index)
    else:
        raise FieldProblem(0, f"column of type {dtype} cannot hold an {what}")
    missing = ints.isna()
    filled = ints.fillna(0).astype("int64")
    negative = (filled < 0).to_numpy()
    if negative.any() and not field.signed:
        pos = _first(negative)
        raise FieldProblem(pos, f"negative {what} not allowed: {int(filled.iloc[pos])}")
    magnitude = np.abs(filled.to_numpy())
    if field.decimals:
        scale = 10**field.decimals
        whole = (magnitude // scale).astype(StringDType())
        frac = np.strings.zfill((magnitude % scale).astype(StringDType()), field.decimals)
        digits = np.strings.add(np.strings.add(whole, field.decimal_separator), frac)
    else:
        digits = magnitude.astype(StringDType())
    if field.width is not None and field.pad == "0":
        body = np.strings.zfill(digits, field.width)
        if negative.any():
            signed = np.strings.add("-", np.strings.zfill(digits, field.width - 1))
            body = np.where(negative, signed, body)
    elif negative.any():
        body = np.where(negative, np.strings.add("-", digits), digits)
    else:
        body = digits
    if not missing.any():  # every value given: the texts stay a numpy array
        width = int(np.strings.str_len(body).max()) if len(body) else 1
        return None, body.astype(f"<U{max(width, 1)}")
    out = pd.Series(body.astype(object), index=series.index, dtype="str")
    if missing.any():
        out = out.where(~missing, "")
    if field.const is not None:
        const_text = str(field.const)
        out = out.where(~missing, const_text)
    if field.required and (out == "").any():
        raise FieldProblem(_first(out == ""), "missing required value")
    return out, None


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _date_out(field: Field, series: pd.Series) -> pd.Series:
    out = format_dates(date_stamps(series), field.format)
    return check_common_out(field, out)


def date_stamps(series: pd.Series) -> pd.Series:
    """A column of dates (datetimes, ``datetime.date`` or ISO strings; blanks as NaT) as a
    datetime column; ``FieldProblem`` at the first value that is not a date."""
    if pd.api.types.is_datetime64_any_dtype(series.dtype):
        stamps = series
        bad = pd.Series(False, index=series.index)
    elif (days := _plain_dates(series)) is not None:
        stamps = pd.Series(days, index=series.index)
        bad = pd.Series(False, index=series.index)
    else:
        obj = series.astype(object)
        given = obj.notna() & (obj.astype(str).str.strip() != "")
        stamps = pd.to_datetime(obj.where(given, None), errors="coerce", format="ISO8601")
        bad = given & stamps.isna()
    if bad.any():
        pos = _first(bad)
        raise FieldProblem(pos, f"not a date: {series.iloc[pos]!r}")
    return stamps


def _plain_dates(series: pd.Series) -> np.ndarray | None:
    """A column of ``datetime.date`` values (None for blanks) as datetime64[D], converted by
    numpy in one call; None when any value is something else (strings, datetimes, ...)."""
    if series.dtype != object:
        return None
    codes, uniques = pd.factorize(series)  # a column holds few distinct dates: convert those
    values = uniques.tolist() if hasattr(uniques, "tolist") else list(uniques)
    if not all(type(v) is datetime.date for v in values):
        return None
    days = np.array([*values, None], dtype="datetime64[D]")  # the last: blanks (code -1)
    return days[codes]


def format_dates(stamps: pd.Series, fmt: str) -> pd.Series:
    """``strftime`` for a datetime column, fast for formats made of %Y %m %d %H %M %S.

    Each distinct date is formatted once: a column of invoices holds few distinct dates.
    """
    codes, uniques = pd.factorize(stamps)
    if len(uniques) * 4 < len(stamps):
        text = format_each_date(pd.Series(uniques), fmt).tolist()
        values = np.array([*text, ""], dtype=object)[codes]  # code -1 (a blank): the last
        return pd.Series(values, index=stamps.index, dtype="str")
    return format_each_date(stamps, fmt)


def format_each_date(stamps: pd.Series, fmt: str) -> pd.Series:
    """``format_dates`` value by value (no sharing of equal dates); blanks as ''."""
    missing = stamps.isna()
    parts = re.split(r"(%.)", fmt)
    if all(p in _DIRECTIVES or not p.startswith("%") for p in parts):
        filled = stamps.fillna(pd.Timestamp(2000, 1, 1))
        text = np.full(len(stamps), "", dtype=StringDType())
        for part in parts:
            if part in _DIRECTIVES:
                attr, width = _DIRECTIVES[part]
                number = getattr(filled.dt, attr).to_numpy().astype(np.int64)
                text = np.strings.add(text, np.strings.zfill(number.astype(StringDType()), width))
            elif part:
                text = np.strings.add(text, part)
        out = pd.Series(text.astype(object), index=stamps.index, dtype="str")
    else:
        out = stamps.dt.strftime(fmt).astype(object).astype(str)
    if missing.any():
        out = out.where(~missing, "")
    return out


# --------------------------------------------------------------------------------------- reading


def _cells(raw: pd.Series | np.ndarray) -> np.ndarray:
    """Raw field texts as a fixed-width numpy unicode array (``<U``), whatever they came in.

    A 2-D array is a matrix of code points, one row per value (as the fixed-width reader cuts
    them out of a file's characters).
    """
    if isinstance(raw, np.ndarray) and raw.ndim == 2:
        width = max(raw.shape[1], 1)
        if raw.shape[1] == 0:
            return np.full(raw.shape[0], "", dtype="<U1")
        return np.ascontiguousarray(raw, dtype="<u4").view(f"<U{width}")[:, 0]
    if isinstance(raw, np.ndarray) and raw.dtype.kind == "U":
        return raw
    values = raw.to_numpy(dtype=object) if isinstance(raw, pd.Series) else raw
    return np.asarray(values, dtype=str) if len(values) else np.array([], dtype="<U1")


def _str_series(values: np.ndarray) -> pd.Series:
    """A numpy unicode array as the pandas string column the reader hands out."""
    return pd.Series(values.astype(object), dtype="str")


def _ascii(values: np.ndarray) -> np.ndarray:
    """Per value: only ASCII characters (checked on the code points of a ``<U`` array)."""
    if values.dtype.itemsize == 0 or len(values) == 0:
        return np.ones(len(values), dtype=bool)
    points = values.view(np.uint32).reshape(len(values), -1)
    return (points < 128).all(axis=1)


def from_text(field: Field, raw: pd.Series | np.ndarray) -> pd.Series:
    """The values of a column of raw field texts (already cut out of their lines).

    ``raw`` is a numpy ``<U`` array (the fixed-width reader cuts those straight from the file's
    bytes) or any Series of strings; the whole column is checked and converted at once.
    """
    if field.type == "integer" or (field.type == "amount" and not field.decimals):
        quick = _all_digits(field, raw)
        return quick if quick is not None else _plain_number_in(field, _cells(raw))
    if field.type == "date" and (quick := _matrix_dates(field, raw)) is not None:
        return quick
    if field.type == "text" and (few := _few_texts(raw)) is not None:
        return _few_text_in(field, *_zeros_off(field, *few))
    text = _zeros_off(field, np.strings.strip(_cells(raw)))[0]
    empty = text == ""
    if field.required and empty.any():
        raise FieldProblem(_first(empty), "missing required value")
    if field.type == "text":
        return _text_in(field, text, empty)
    if field.type == "amount":
        series = _str_series(text)
        return _number_in(field, series, pd.Series(empty))
    return _date_in(field, text, empty)


def _zeros_off(field: Field, text: np.ndarray, *rest):
    """A zero-filled text field's values (pad '0') without their leading zeros (all zeros read
    as blank); ``text`` (a ``<U`` array) and what comes with it as they are for any other."""
    if field.type != "text" or field.pad != "0":
        return (text, *rest)
    text = np.strings.lstrip(text, "0")
    if rest:  # (_few_texts: the same values as str objects, then each row's code)
        rest = (text.astype(object), *rest[1:])
    return (text, *rest)


def _all_digits(field: Field, raw) -> pd.Series | None:
    """The values of a column whose every cell is all ASCII digits (zero-padded numbers, the
    usual case), read straight from its matrix of code points; None for any other column."""
    if not isinstance(raw, np.ndarray) or raw.ndim != 2 or not 0 < raw.shape[1] <= 18:
        return None
    if raw.dtype.kind == "u":  # below '0' wraps round to a large digit: one test each
        digits = raw - raw.dtype.type(48)
        plain = (digits <= 9).all()
    else:
        digits = raw.astype(np.int64) - 48
        plain = ((digits >= 0) & (digits <= 9)).all()
    if len(digits) and not plain:
        return None
    values = np.zeros(len(digits), dtype=np.int64)
    for j in range(raw.shape[1]):  # a place at a time: no int64 copy of the whole matrix
        values *= 10
        values += digits[:, j]
    if field.const is not None:
        wrong = values != int(field.const)
        if wrong.any():
            pos = _first(wrong)
            text = "".join(chr(c) for c in raw[pos]).strip()
            raise FieldProblem(pos, f"expected {field.const!r}, got {text!r}")
    return pd.Series(values)


def _plain_number_in(field: Field, cells: np.ndarray) -> pd.Series:
    """Integers and whole-øre amounts, checked and converted with numpy string ufuncs."""
    what = "an amount" if field.type == "amount" else "an integer"
    arr = np.strings.strip(cells)
    empty = arr == ""
    if field.required and empty.any():
        raise FieldProblem(_first(empty), "missing required value")
    negative = np.strings.startswith(arr, "-") if field.signed else np.zeros(len(arr), bool)
    body = np.where(negative, np.strings.slice(arr, 1, None), arr) if negative.any() else arr
    # isdecimal takes Arabic-Indic and fullwidth digits; a file's numbers are ASCII only
    ok = empty | (np.strings.isdecimal(body) & _ascii(body))
    if not ok.all():
        pos = _first(~ok)
        raise FieldProblem(pos, f"not {what}: {str(arr[pos])!r}")
    too_long = np.strings.str_len(np.strings.lstrip(body, "0")) > 18
    if too_long.any():
        pos = _first(too_long)
        raise FieldProblem(pos, f"{field.type} too large: {str(arr[pos])!r}")
    values = _digits_value(body)
    if negative.any():
        values = np.where(negative, -values, values)
    if field.const is not None:
        wrong = empty | (values != int(field.const))
        if wrong.any():
            pos = _first(wrong)
            raise FieldProblem(pos, f"expected {field.const!r}, got {str(arr[pos])!r}")
    out = pd.Series(values)
    if empty.any():
        return out.astype("Int64").mask(pd.Series(empty))
    return out


def _digits_value(body: np.ndarray) -> np.ndarray:
    """The int64 value of each checked string of ASCII digits ('' is 0), a column of digits at
    a time: numpy's own string-to-int cast goes through Python ints one value at a time."""
    body = np.strings.lstrip(body, "0")
    n = len(body)
    if n == 0 or body.dtype.itemsize == 0:
        return np.zeros(n, dtype=np.int64)
    points = np.ascontiguousarray(body).view(np.uint32).reshape(n, -1)
    values = np.zeros(n, dtype=np.int64)
    for j in range(points.shape[1]):  # at most 18 digits are left (checked above)
        column = points[:, j].astype(np.int64)
        present = column != 0
        if not present.any():
            break
        values = np.where(present, values * 10 + (column - 48), values)
    return values


def _few_texts(raw) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """A byte column holding few distinct values (codes, names, towns), each distinct value
    decoded and stripped once: (their texts as ``<U``, the same as str objects, each row's
    code); None for any other column.

    Making one Python string per row is most of what reading a text column costs; rows that
    share a value share its string. Rows are told apart by a key made of their bytes; a key
    that two different values share is caught by comparing every row with its value's row,
    and the column then takes the careful path.
    """
    if not isinstance(raw, np.ndarray) or raw.ndim != 2 or raw.dtype != np.uint8:
        return None
    n, width = raw.shape
    if not n or not width:
        return None
    if n > 4096 and len(pd.unique(_row_keys(raw[:1024]))) > 256:
        return None  # mostly distinct values (told from the first rows): few strings to share
    codes, uniques = pd.factorize(_row_keys(raw))
    if len(uniques) * 4 > n:
        return None
    first = np.empty(len(uniques), dtype=np.intp)
    first[codes] = np.arange(n)
    rows = raw[first]
    if width > 8 and not (_gather_rows(rows, codes) == raw).all():
        return None  # two values share a key
    # as numpy's <U would hold and strip them: trailing NULs dropped, then whitespace
    texts = [r.tobytes().decode("iso-8859-1").rstrip("\x00").strip() for r in rows]
    if any("\x00" in t for t in texts):
        return None  # (the reader names a control character before values are read)
    return np.array(texts, dtype=f"<U{width}"), np.array(texts, dtype=object), codes


def _row_keys(raw: np.ndarray) -> np.ndarray:
    """One uint64 key per row of a byte matrix: the row itself when it is at most 8 bytes,
    else its 8-byte words mixed (two rows may then share a key)."""
    n, width = raw.shape
    words = -(-width // 8)
    padded = np.zeros((n, words * 8), dtype=np.uint8)
    # each row copied as one item (a slice assignment loops over each row's bytes on its own)
    target = np.ndarray((n,), dtype=f"V{width}", buffer=padded, strides=(words * 8,))
    target[...] = _row_items(raw)
    parts = padded.view(np.uint64)
    key = parts[:, 0].copy()
    for j in range(1, words):
        key = (key * np.uint64(0x100000001B3)) ^ parts[:, j]
    return key


def _row_items(raw: np.ndarray) -> np.ndarray:
    """Each row of a byte matrix as one item of its width (a view when each row's bytes are
    contiguous, as in a block's columns)."""
    if raw.strides[1] != 1:
        raw = np.ascontiguousarray(raw)
    return raw.view(f"V{raw.shape[1]}")[:, 0]


def _gather_rows(rows: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``rows[at]`` of a byte matrix, gathered as whole items (about twice as fast)."""
    return _row_items(rows)[at].view(np.uint8).reshape(len(at), rows.shape[1])


def _few_text_in(field: Field, text: np.ndarray, objects: np.ndarray, codes: np.ndarray):
    """``from_text`` of a text column of few distinct values (``_few_texts``): each check made
    once per distinct value, the row named the first holding a bad one."""
    empty = text == ""
    if field.required and empty.any():
        raise FieldProblem(_first(empty[codes]), "missing required value")
    if field.const is not None:
        wrong = text != field.const
        if wrong.any():
            pos = _first(wrong[codes])
            got = str(text[codes[pos]])
            raise FieldProblem(pos, f"expected {field.const!r}, got {got!r}")
    if field.values is not None:
        bad = ~empty & ~np.isin(text, np.array(field.values, dtype=str))
        if bad.any():
            pos = _first(bad[codes])
            got = str(text[codes[pos]])
            raise FieldProblem(pos, f"{got!r} is not one of {sorted(field.values)}")
    return pd.Series(objects[codes], dtype="str")


def _text_in(field: Field, text: np.ndarray, empty: np.ndarray) -> pd.Series:
    if field.const is not None:
        wrong = text != field.const
        if wrong.any():
            pos = _first(wrong)
            raise FieldProblem(pos, f"expected {field.const!r}, got {str(text[pos])!r}")
    if field.values is not None:
        bad = ~empty & ~np.isin(text, np.array(field.values, dtype=str))
        if bad.any():
            pos = _first(bad)
            raise FieldProblem(pos, f"{str(text[pos])!r} is not one of {sorted(field.values)}")
    return _str_series(text)


def _number_in(field: Field, text: pd.Series, empty: pd.Series) -> pd.Series:
    what = "an amount" if field.type == "amount" else "an integer"
    sign = "-?" if field.signed else ""
    if field.decimals:
        pattern = (
            sign + "[0-9]+" + re.escape(field.decimal_separator) + f"[0-9]{{{field.decimals}}}"
        )
    else:
        pattern = sign + "[0-9]+"
    ok = empty | text.str.fullmatch(pattern)
    if not ok.all():
        pos = _first(~ok)
        raise FieldProblem(pos, f"not {what}: {text.iloc[pos]!r}")
    digits = text.str.replace(field.decimal_separator, "", regex=False) if field.decimals else text
    digits = digits.where(~empty, "0")
    too_long = digits.str.lstrip("-").str.lstrip("0").str.len() > 18
    if too_long.any():
        pos = _first(too_long)
        raise FieldProblem(pos, f"{field.type} too large: {text.iloc[pos]!r}")
    values = digits.astype("int64")
    if field.const is not None:
        wrong = empty | (values != int(field.const))
        if wrong.any():
            pos = _first(wrong)
            raise FieldProblem(pos, f"expected {field.const!r}, got {text.iloc[pos]!r}")
    if empty.any():
        return values.astype("Int64").mask(empty)
    return values


def _date_parts(fmt: str) -> list[str] | None:
    """The parts of a date format made only of fixed-width directives and literals, else None."""
    parts = [p for p in re.split(r"(%.)", fmt) if p]
    if all(p in _DIRECTIVES or not p.startswith("%") for p in parts):
        return parts
    return None


def _date_in(field: Field, text: np.ndarray, empty: np.ndarray) -> pd.Series:
    parts = _date_parts(field.format)
    if parts is None:
        return _date_in_pandas(field, _str_series(text), pd.Series(empty))
    dates, ok = _fixed_dates(parts, text)
    bad = ~empty & ~ok
    if bad.any():
        pos = _first(bad)
        raise FieldProblem(pos, f"not a date ({field.format}): {str(text[pos])!r}")
    return _date_objects(dates, empty)


def _date_objects(dates: np.ndarray, empty: np.ndarray) -> pd.Series:
    """``datetime.date`` values (None where ``empty``), one object made per distinct date."""
    codes, days = pd.factorize(dates.astype("datetime64[D]").view(np.int64))
    out = days.astype("datetime64[D]").astype(object)[codes]
    if empty.any():
        out[empty] = None
    return pd.Series(out, dtype=object)


def _matrix_dates(field: Field, raw) -> pd.Series | None:
    """Dates read straight from their matrix of characters, when the field is as wide as its
    format and every cell is the format's width once stripped, or blank (the usual case);
    None for any other column (``from_text`` then strips and measures it as text)."""
    parts = _date_parts(field.format)
    if not isinstance(raw, np.ndarray) or raw.ndim != 2 or parts is None:
        return None
    if raw.shape[1] != _format_width(parts) or not len(raw):
        return None
    shaped = ~spaces(raw[:, 0]) & ~spaces(raw[:, -1])  # nothing to strip: the text is the cell
    empty = ~shaped
    if empty.any():
        empty &= spaces(raw).all(axis=1)
        if (~shaped & ~empty).any():
            return None  # a shorter date: the careful path names it
        if field.required:
            raise FieldProblem(_first(empty), "missing required value")
    dates, ok = _dates_from_points(parts, raw.astype(np.int64), shaped)
    bad = ~empty & ~ok
    if bad.any():
        pos = _first(bad)
        text = "".join(map(chr, raw[pos].tolist()))
        raise FieldProblem(pos, f"not a date ({field.format}): {text!r}")
    return _date_objects(dates, empty)


def _format_width(parts: list[str]) -> int:
    """The width of a date format made of fixed-width directives and literals."""
    return sum(_DIRECTIVES[p][1] if p in _DIRECTIVES else len(p) for p in parts)


def _fixed_dates(parts: list[str], text: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Dates of a fixed-width format, cut digit by digit: (datetime64[s] values, valid mask)."""
    width = _format_width(parts)
    n = len(text)
    ok = np.strings.str_len(text) == width
    fixed = np.where(ok, text, " " * width).astype(f"<U{width}")
    points = fixed.view(np.uint32).reshape(n, width).astype(np.int64)
    return _dates_from_points(parts, points, ok)


def _dates_from_points(parts: list[str], points: np.ndarray, ok: np.ndarray):
    """Dates from a ``(values x format width)`` matrix of code points, ``ok`` where the text
    had the format's width: (datetime64[s] values, valid mask).

    Exact digit counts (strptime alone would take '2026111' for %Y%m%d) and real calendar
    dates (no 30 February, no year 0), as ``pd.to_datetime`` with the format would judge them.
    """
    n = len(points)
    ok = ok.copy()
    got = {"year": 1970, "month": 1, "day": 1, "hour": 0, "minute": 0, "second": 0}
    at = 0
    for part in parts:  # column by column: reductions along a row of 2 to 4 cost far more
        if part in _DIRECTIVES:
            name, size = _DIRECTIVES[part]
            value = np.zeros(n, dtype=np.int64)
            for column in range(at, at + size):
                digit = points[:, column] - 48
                ok &= (digit >= 0) & (digit <= 9)
                value = value * 10 + digit
            got[name] = value
        else:
            size = len(part)
            for column, char in enumerate(part, start=at):
                ok &= points[:, column] == ord(char)
        at += size
    year, month, day = (np.broadcast_to(got[k], (n,)) for k in ("year", "month", "day"))
    hour, minute, second = (np.broadcast_to(got[k], (n,)) for k in ("hour", "minute", "second"))
    ok &= (year >= 1) & (month >= 1) & (month <= 12) & (day >= 1) & (day <= 31)
    ok &= (hour <= 23) & (minute <= 59) & (second <= 59)
    months = np.where(ok, (year - 1970) * 12 + month - 1, 0).astype("datetime64[M]")
    days = months.astype("datetime64[D]") + np.where(ok, day - 1, 0).astype("timedelta64[D]")
    ok &= days.astype("datetime64[M]") == months
    stamps = days.astype("datetime64[s]") + (hour * 3600 + minute * 60 + second).astype(
        "timedelta64[s]"
    )
    return stamps, ok


def _date_in_pandas(field: Field, text: pd.Series, empty: pd.Series) -> pd.Series:
    stamps = pd.to_datetime(text.where(~empty, None), format=field.format, errors="coerce")
    wrong_shape = format_dates(stamps, field.format) != text
    bad = ~empty & (stamps.isna() | wrong_shape)
    if bad.any():
        pos = _first(bad)
        raise FieldProblem(pos, f"not a date ({field.format}): {text.iloc[pos]!r}")
    dates = stamps.dt.date.astype(object)
    if empty.any():
        dates = dates.where(~empty, None)
    return dates
