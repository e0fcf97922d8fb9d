"""The writer's quick path for fixed-width fields: a whole column straight to a byte matrix.

Each function returns the field's ``(records x width)`` matrix of ISO-8859-1 code points, padded
and aligned as the careful path (``codec.to_cells`` and ``writer._Texts``) pads them, or None
whenever it is not sure the careful path would accept every value. The writer then takes the
careful path for that field, which makes the same text or names the first bad value: this path
never raises and never decides an error, so the errors stay the careful path's own.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from inkasso.formats.bytecols import pack_texts
from inkasso.formats.codec import (
    FieldProblem,
    as_strings,
    check_common_out,
    date_stamps,
    format_each_date,
)
from inkasso.formats.spec import Field

_INT64_MIN = np.iinfo(np.int64).min


def field_matrix(field: Field, column: pd.Series) -> np.ndarray | None:
    """The field's column as a byte matrix (see the module), or None for the careful path."""
    if field.width is None:
        return None
    if field.type == "text":
        return _text_matrix(field, column)
    if field.type in ("integer", "amount"):
        return _number_matrix(field, column)
    return _date_matrix(field, column)


def _text_matrix(field: Field, column: pd.Series) -> np.ndarray | None:
    values = column.to_numpy(dtype=object).tolist()
    try:
        matrix = pack_texts(values, field.width, field.align)
    except TypeError:  # a blank or a non-text value: as text, the way the careful path has it
        matrix = pack_texts(as_strings(column).tolist(), field.width, field.align)
    if matrix is None or (matrix := _checked(field, matrix)) is None:
        return None
    return _zero_filled(matrix) if field.pad == "0" else matrix


def _zero_filled(matrix: np.ndarray) -> np.ndarray:
    """A matrix of right-aligned texts with the blanks before each value made zeros."""
    matrix[np.logical_and.accumulate(matrix == 32, axis=1)] = ord("0")
    return matrix


def _plain(text: str, width: int) -> bool:
    """Can ``text`` be told from a packed row: unstripped, ISO-8859-1, no control character."""
    plain = text == text.strip() and len(text) <= width
    return plain and pack_texts([text], width, "left") is not None


def _checked(field: Field, matrix: np.ndarray) -> np.ndarray | None:
    """The constant in blank rows, after the checks of ``codec.check_common_out`` passed for
    every row (None when any did not, or when a rule is too odd to be judged on bytes)."""
    width = field.width
    blank = (matrix == 32).all(axis=1)  # a stripped value that is not blank holds a non-blank
    if field.const is not None:
        if not _plain(field.const, width):
            return None
        const = pack_texts([field.const], width, field.align)
        if (_rows(matrix) != _rows(const)[0])[~blank].any():
            return None
        matrix = np.where(blank[:, None], const, matrix)
        blank = blank & (field.const == "")
    if field.required and blank.any():
        return None
    if field.values is not None:
        if not all(v == v.strip() for v in field.values):
            return None
        allowed = [v for v in field.values if _plain(v, width)]
        table = _rows(pack_texts(allowed, width, field.align)) if allowed else []
        if (~np.isin(_rows(matrix), table))[~blank].any():
            return None
    return matrix


def _rows(matrix: np.ndarray) -> np.ndarray:
    """Each row of a byte matrix as one fixed-width bytes value (rows hold no NUL)."""
    return np.ascontiguousarray(matrix).view(f"S{matrix.shape[1]}")[:, 0]


def _number_matrix(field: Field, column: pd.Series) -> np.ndarray | None:
    """Zero-padded integers and amounts (the fixed-width default) as digits, place by place."""
    dtype = column.dtype
    if field.pad != "0" or pd.api.types.is_bool_dtype(dtype):
        return None
    if not pd.api.types.is_integer_dtype(dtype) or dtype.kind == "u" and dtype.itemsize == 8:
        return None
    if column.isna().any():
        return None  # a blank takes the constant or is refused: the careful path knows
    values = column.to_numpy(dtype=np.int64)
    negative = values < 0
    if negative.any() and (not field.signed or (values == _INT64_MIN).any()):
        return None
    decimals, width, separator = field.decimals, field.width, field.decimal_separator
    if decimals and (len(separator) != 1 or ord(separator) > 255):
        return None
    whole_width = width - (decimals + 1 if decimals else 0)
    if whole_width < 1:
        return None
    whole, fraction = np.divmod(np.abs(values), 10**decimals)
    room = np.where(negative, whole_width - 1, whole_width)  # digits the whole part may take
    too_long = (room < 19) & (whole >= 10 ** np.clip(room, 0, 18))
    if (room < 1).any() or too_long.any():
        return None
    matrix = np.empty((len(values), width), dtype=np.uint8)
    _digits(matrix, whole, 0, whole_width)
    if decimals:
        matrix[:, whole_width] = ord(separator)
        _digits(matrix, fraction, whole_width + 1, width)
    matrix[negative, 0] = ord("-")
    return matrix


def _digits(matrix: np.ndarray, numbers: np.ndarray, start: int, end: int) -> None:
    """Write ``numbers`` zero-padded into the columns ``start:end`` of ``matrix``."""
    left = numbers.copy()
    for place in range(end - 1, start - 1, -1):
        left, digit = np.divmod(left, 10)
        matrix[:, place] = digit + 48


def _date_matrix(field: Field, column: pd.Series) -> np.ndarray | None:
    """Dates: each distinct date formatted and checked once, then gathered into the rows."""
    try:
        stamps = date_stamps(column)
    except FieldProblem:
        return None
    codes, uniques = pd.factorize(stamps)
    texts = format_each_date(pd.Series(uniques), field.format).tolist()
    if (codes < 0).any():
        texts.append("")  # code -1 (a blank) takes the last
    try:
        texts = check_common_out(field, np.array(texts, dtype=str)).tolist()
    except FieldProblem:
        return None
    if not all(_plain(t, field.width) or t == "" for t in texts):
        return None
    table = pack_texts(texts, field.width, field.align)
    return None if table is None else table[codes]
