"""Masking of national ids in free text (rejection reasons, file issues, task errors) and logs.

A Norwegian fødselsnummer (11 digits) and a Swedish personnummer (10 or 12 digits, ``-``/``+``
allowed before the last four) are masked wherever they appear, as ``mask_id`` does: only the
first six characters (the birth date) stay. Number shapes that cannot be a national id (KIDs of
other lengths, amounts with separators) are left alone.
"""

from __future__ import annotations

import re

from inkasso.national_ids import mask_id

# 6 or 8 digits (birth date), an optional -/+ and 4 or 5 digits, not inside a longer number
_ID_SHAPE = re.compile(r"(?<![\d*])(?:\d{6}|\d{8})[-+]?\d{4,5}(?![\d*])")


def mask_text(text: str | None) -> str:
    """``text`` with every national-id shaped number masked (``None`` -> ``''``)."""
    if not text:
        return ""
    return _ID_SHAPE.sub(lambda m: mask_id(m.group(0)), str(text))
