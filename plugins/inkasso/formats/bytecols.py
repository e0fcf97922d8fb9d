"""Fixed-width columns as matrices of characters (one row a value, one column a position).

The reader cuts a field out of a block's characters as a ``(records x width)`` matrix (bytes for
ISO-8859-1 and ASCII, code points otherwise) and the writer lays its lines out as one. These
helpers tell whitespace in such a matrix and pack a column of texts into one, a whole column at a
time. Whitespace is what ``str.strip`` (and ``numpy.strings.strip``) takes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

_SPACE, _LF = 32, 10
# str.isspace() over all of Unicode (numpy.strings.strip takes the very same characters)
_WIDE_SPACES = (0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F, 0x205F, 0x3000)
_BYTE_SPACES = np.zeros(256, dtype=bool)
_BYTE_SPACES[[9, 10, 11, 12, 13, 0x1C, 0x1D, 0x1E, 0x1F, 32, 0x85, 0xA0]] = True


def spaces(chars: np.ndarray) -> np.ndarray:
    """Per character of ``chars`` (bytes or code points): is it whitespace, as ``str.isspace``."""
    if chars.dtype == np.uint8:
        return _BYTE_SPACES[chars]
    low = _BYTE_SPACES[np.minimum(chars, 255)] & (chars < 256)
    wide = chars >= 0x1680
    if wide.any():
        low |= wide & np.isin(chars, np.array(_WIDE_SPACES, dtype=chars.dtype))
    return low


def pack_texts(values: list[str], width: int, align: str) -> np.ndarray | None:
    """Texts stripped and padded with blanks into a ``(values x width)`` byte matrix.

    Only for the plain case: every value fits one byte a character (ISO-8859-1 code points),
    holds no control character and fits ``width`` once stripped. Otherwise None (the caller
    then takes the careful path, which names what is wrong). ``TypeError`` for a value that
    is not a ``str``.
    """
    n = len(values)
    joined = "\n".join(values)  # one buffer of the whole column; LF between values
    try:
        data = joined.encode("iso-8859-1")
    except UnicodeEncodeError:
        return None
    buf = np.frombuffer(data, dtype=np.uint8)
    if (buf == 127).any() or np.count_nonzero(buf < _SPACE) != max(n - 1, 0):
        return None  # a control character besides the n - 1 LFs between values (a LF inside)
    begin, size = _stripped(buf, *value_bounds(buf, n))
    if n and int(size.max()) > width:
        return None
    return place(buf, begin, size, width, align)


def value_bounds(buf: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Where each of the ``n`` LF-separated values of ``buf`` starts, and its length."""
    breaks = np.flatnonzero(buf == _LF)
    starts = np.concatenate(([0], breaks + 1)).astype(np.int64)
    ends = np.concatenate((breaks, [len(buf)])).astype(np.int64)
    return starts[:n], (ends - starts)[:n]


def _stripped(buf: np.ndarray, starts: np.ndarray, lens: np.ndarray):
    """``(starts, lens)`` of the values with the whitespace at both ends taken off."""
    some = lens > 0
    if not some.any():
        return starts, lens
    first = _BYTE_SPACES[buf[np.where(some, starts, 0)]]
    last = _BYTE_SPACES[buf[np.maximum(starts + lens - 1, 0)]]
    if not (some & (first | last)).any():
        return starts, lens  # the usual case: nothing to strip
    solid = np.flatnonzero(~_BYTE_SPACES[buf])  # LFs count as whitespace: never inside a value
    first = np.searchsorted(solid, starts)
    begin = solid[np.minimum(first, len(solid) - 1)] if len(solid) else starts
    after = np.searchsorted(solid, starts + lens) - 1
    end = solid[np.maximum(after, 0)] + 1 if len(solid) else starts
    blank = (first > after) | ~some
    return np.where(blank, starts, begin), np.where(blank, 0, end - begin)


def place(buf: np.ndarray, starts: np.ndarray, lens: np.ndarray, width: int, align: str):
    """The values ``buf[start:start+len]`` (each at most ``width``) laid out in a
    ``(values x width)`` matrix, padded with blanks on the right (``align`` left) or on the
    left (right).

    Each row is one slice of the buffer (a gather of whole rows, as the reader cuts lines);
    what lies beyond a value is then blanked with two row masks looked up by its length. Rows
    and masks are gathered as items of ``width`` bytes: a gather of a 2-D array's rows loops
    over each row's few bytes on its own, about twice as slow.
    """
    blanks = np.full(width, _SPACE, dtype=np.uint8)
    padded = np.concatenate((blanks, buf, blanks))
    at = starts + width if align != "right" else starts + lens
    rows = _as_rows(_items(padded, width)[at], width)
    keep, blank = _masks(width, align == "right")
    rows &= _as_rows(keep[lens], width)
    rows |= _as_rows(blank[lens], width)
    return rows


def _items(chars: np.ndarray, width: int) -> np.ndarray:
    """Every ``width`` bytes of ``chars`` from each position on, as one item each (a view)."""
    count = len(chars) - width + 1
    return np.ndarray((count,), dtype=f"V{width}", buffer=chars, strides=(1,))


def _as_rows(items: np.ndarray, width: int) -> np.ndarray:
    """Items of ``width`` bytes as a ``(items x width)`` byte matrix (a view)."""
    return items.view(np.uint8).reshape(len(items), width)


@lru_cache(maxsize=256)
def _masks(width: int, right: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per value length 0..width, as one item of ``width`` bytes each: the row mask keeping a
    value's bytes (0xFF) and the blanks to put where it is not (left-aligned values keep the
    first ``length`` places)."""
    places = np.arange(width)[None, :]
    lengths = np.arange(width + 1)[:, None]
    inside = places >= width - lengths if right else places < lengths
    keep = np.where(inside, 255, 0).astype(np.uint8)
    blank = np.where(inside, 0, _SPACE).astype(np.uint8)
    return _items(keep.ravel(), width)[::width], _items(blank.ravel(), width)[::width]
