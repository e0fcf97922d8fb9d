"""Validity of national ids and organisation numbers, by country, with python-stdnum.

python-stdnum is the reference. Person numbers in their plain forms (Norway: 11 digits;
Sweden: ``YYMMDD-NNNN``, ``YYMMDD+NNNN`` or 10 digits) are checked by the same rules on whole
columns (``_fast_no_persons``, ``_fast_se_persons``): stdnum took tens of microseconds an id,
a second of dispatch's rules per 300 000 invoices. Every other form goes to stdnum. The test
``tests/inkasso/test_national_ids.py`` holds both ways to the same answers.
"""

from __future__ import annotations

import re
from datetime import date

import numpy as np
import pandas as pd
from stdnum.no import fodselsnummer
from stdnum.no import orgnr as no_orgnr
from stdnum.se import orgnr as se_orgnr
from stdnum.se import personnummer

from inkasso.masking import mask_id  # noqa: F401  (the one masking, re-exported)

_VALIDATORS = {
    ("NO", False): fodselsnummer.is_valid,
    ("NO", True): no_orgnr.is_valid,
    ("SE", False): personnummer.is_valid,
    ("SE", True): se_orgnr.is_valid,
}
_NO_PERSON = re.compile(r"[0-9]{11}")
_SE_PERSON = re.compile(r"[0-9]{6}[-+]?[0-9]{4}")
_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def is_valid_id(national_id: str | None, country: str, is_organisation: bool) -> bool:
    """True when ``national_id`` is a valid person or organisation number of ``country``."""
    validator = _VALIDATORS.get((country, bool(is_organisation)))
    return bool(national_id) and validator is not None and validator(national_id)


def valid_ids(frame: pd.DataFrame) -> pd.Series:
    """Vector of validity for a frame with national_id, country, is_organisation (one check per
    distinct id; plain person numbers checked as whole columns)."""
    keys = frame[["national_id", "country", "is_organisation"]].drop_duplicates()
    ids = keys["national_id"].to_numpy(dtype=object)
    countries = keys["country"].to_numpy(dtype=object)
    person = ~keys["is_organisation"].astype(bool).to_numpy()
    valid = np.zeros(len(keys), dtype=bool)
    done = np.zeros(len(keys), dtype=bool)
    for country, pattern, check in (
        ("NO", _NO_PERSON, _fast_no_persons),
        ("SE", _SE_PERSON, _fast_se_persons),
    ):
        plain = person & (countries == country) & _matches(pattern, ids)
        if plain.any():
            valid[plain] = check(ids[plain].tolist())
            done |= plain
    rest = np.flatnonzero(~done)
    valid[rest] = [is_valid_id(ids[i], countries[i], not person[i]) for i in rest]
    keys["valid"] = valid
    merged = frame[["national_id", "country", "is_organisation"]].merge(
        keys, on=["national_id", "country", "is_organisation"], how="left"
    )
    return pd.Series(merged["valid"].to_numpy(dtype=bool), index=frame.index)


def _matches(pattern: re.Pattern, ids: np.ndarray) -> np.ndarray:
    """True where the id is a str wholly of ``pattern``'s form (ASCII only)."""
    return np.fromiter(
        (isinstance(v, str) and v.isascii() and pattern.fullmatch(v) is not None for v in ids),
        dtype=bool,
        count=len(ids),
    )


def _digit_matrix(ids: list[str]) -> np.ndarray:
    """The ids (ASCII, all of one length) as a matrix of their characters' codes."""
    width = len(ids[0])
    raw = np.frombuffer("".join(ids).encode("ascii"), dtype=np.uint8)
    return raw.reshape(len(ids), width).astype(np.int64)


def _real_date(year: np.ndarray, month: np.ndarray, day: np.ndarray) -> np.ndarray:
    """True where (year, month, day) is a date of the calendar (years 1-9999)."""
    ok_month = (month >= 1) & (month <= 12)
    leap = (year % 4 == 0) & ((year % 100 != 0) | (year % 400 == 0))
    last = _DAYS[np.clip(month, 0, 12)] + ((month == 2) & leap)
    return ok_month & (day >= 1) & (day <= last) & (year >= 1) & (year <= 9999)


def _fast_no_persons(ids: list[str]) -> np.ndarray:
    """``stdnum.no.fodselsnummer.is_valid`` of 11-digit ids, on the whole column."""
    d = _digit_matrix(ids) - ord("0")
    check1 = (11 - d[:, :9] @ np.array([3, 7, 6, 1, 8, 9, 4, 5, 2])) % 11
    check2 = (11 - d[:, :10] @ np.array([5, 4, 3, 2, 7, 6, 5, 4, 3, 2])) % 11
    sums_ok = (check1 == d[:, 9]) & (check2 == d[:, 10])
    day, month, year = d[:, 0] * 10 + d[:, 1], d[:, 2] * 10 + d[:, 3], d[:, 4] * 10 + d[:, 5]
    individual = d[:, 6] * 100 + d[:, 7] * 10 + d[:, 8]
    fh_number = day >= 80  # no birth date by design: stdnum holds them invalid
    day = np.where(day > 40, day - 40, day)  # D-numbers
    month = np.where(month > 40, month - 40, month)  # H-numbers
    century = np.select(
        [
            individual < 500,
            (individual < 750) & (year >= 54),
            (individual < 1000) & (year < 40),
            (individual >= 900) & (individual < 1000) & (year >= 40),
        ],
        [1900, 1800, 2000, 1900],
        default=0,  # no century: invalid
    )
    year = year + century
    born = _real_date(year, month, day)
    today = date.today()
    not_future = (year * 10000 + month * 100 + day) <= (
        today.year * 10000 + today.month * 100 + today.day
    )
    return sums_ok & ~fh_number & (century > 0) & born & not_future


def _fast_se_persons(ids: list[str]) -> np.ndarray:
    """``stdnum.se.personnummer.is_valid`` of ``YYMMDD-NNNN``, ``YYMMDD+NNNN`` and 10-digit
    ids, on the whole column (10 digits read as ``YYMMDD-NNNN``, as stdnum's compact does)."""
    ids = [v if len(v) == 11 else f"{v[:6]}-{v[6:]}" for v in ids]
    m = _digit_matrix(ids)
    plus = m[:, 6] == ord("+")
    d = np.delete(m, 6, axis=1) - ord("0")  # the ten digits
    yy, month, day = d[:, 0] * 10 + d[:, 1], d[:, 2] * 10 + d[:, 3], d[:, 4] * 10 + d[:, 5]
    this_year = date.today().year
    # the century: this one, or the one before if the year is still to come; '+' is 100 older
    century = this_year // 100 - (yy > this_year % 100) - plus
    born = _real_date(century * 100 + yy, month, day)
    # Luhn over the ten digits: from the right, every second digit doubled (digit sum)
    doubled = d[:, 0:10:2] * 2
    luhn = d[:, 1:10:2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return born & (luhn % 10 == 0)
