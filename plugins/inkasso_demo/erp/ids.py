"""Generators of Nordic national ids, organisation numbers, bank accounts and payment references.

Every generator takes a ``random.Random`` so that the demo ERP is reproducible from its seed, and
returns a number that python-stdnum accepts; :func:`invalidate` turns any of them into one with a
wrong check digit. The check digits come from stdnum's own helpers where stdnum has one.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from stdnum import luhn
from stdnum.no import fodselsnummer
from stdnum.no import orgnr as stdnum_no_orgnr
from stdnum.se import orgnr as stdnum_se_orgnr
from stdnum.se import personnummer

_EARLIEST_BIRTH = date(1935, 1, 1)
_LATEST_BIRTH = date(2005, 12, 31)
# the weights of the MOD11 check digit of a Norwegian bank account (stdnum.no.kontonr checks it)
_KONTONR_WEIGHTS = (6, 7, 8, 9, 4, 5, 6, 7, 8, 9)


def _birth_date(rng: random.Random) -> date:
    span = (_LATEST_BIRTH - _EARLIEST_BIRTH).days
    return _EARLIEST_BIRTH + timedelta(days=rng.randint(0, span))


def no_fodselsnummer(rng: random.Random, birth: date | None = None) -> str:
    """A valid Norwegian fødselsnummer (11 digits, DDMMYYIIICC) for a person born 1935-2005."""
    birth = birth or _birth_date(rng)
    while True:
        if birth.year < 2000:
            individual = rng.randint(0, 499)
        else:
            individual = rng.randint(500, 999)
        base = f"{birth:%d%m%y}{individual:03d}"
        first = fodselsnummer.calc_check_digit1(base)
        if len(first) != 1:
            continue
        second = fodselsnummer.calc_check_digit2(base + first)
        if len(second) != 1:
            continue
        return base + first + second


def no_orgnr(rng: random.Random) -> str:
    """A valid Norwegian organisasjonsnummer (9 digits, starting with 8 or 9)."""
    while True:
        base = str(rng.choice((8, 9))) + f"{rng.randint(0, 9_999_999):07d}"
        # stdnum's checksum of the number with a 0 in the check digit's place
        check = (11 - stdnum_no_orgnr.checksum(base + "0")) % 11
        if check != 10:
            return base + str(check)


def se_personnummer(rng: random.Random, birth: date | None = None) -> str:
    """A valid Swedish personnummer in the stored 10-digit form ``YYMMDD-NNNC``."""
    birth = birth or _birth_date(rng)
    base = f"{birth:%y%m%d}{rng.randint(0, 999):03d}"
    check = luhn.calc_check_digit(base)
    return f"{base[:6]}-{base[6:]}{check}"


def se_orgnr(rng: random.Random) -> str:
    """A valid Swedish organisationsnummer ``NNNNNN-NNNN`` (aktiebolag, handelsbolag, förening)."""
    prefix = rng.choice(("556", "559", "969", "802"))
    base = prefix + f"{rng.randint(0, 999_999):06d}"
    check = luhn.calc_check_digit(base)
    return f"{base[:6]}-{base[6:]}{check}"


def no_bank_account(rng: random.Random) -> str:
    """A valid Norwegian bank account number (11 digits, MOD11), digits only."""
    while True:
        base = f"{rng.randint(1200, 9899):04d}{rng.randint(0, 999_999):06d}"
        check = sum(w * int(d) for w, d in zip(_KONTONR_WEIGHTS, base, strict=True)) % 11
        if check != 10:
            return base + str(check)


def se_bankgiro(rng: random.Random) -> str:
    """A plausible Swedish bankgiro number (8 digits, Luhn check digit), digits only."""
    base = f"{rng.randint(5000, 5999)}{rng.randint(0, 999):03d}"
    return base + luhn.calc_check_digit(base)


# digit -> the sum of the digits of twice it, for the Luhn positions that are doubled
_LUHN_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)


def payment_reference(digits: str) -> str:
    """A KID (Norway) or OCR reference (Sweden): ``digits`` followed by its MOD10 (Luhn) digit.

    The same digit as ``stdnum.luhn.calc_check_digit`` (the tests check it), computed in a few
    microseconds: the generator makes a million of them.
    """
    total = 0
    for position, char in enumerate(reversed(digits)):
        total += _LUHN_DOUBLED[int(char)] if position % 2 == 0 else int(char)
    return digits + str(-total % 10)


def invalidate(number: str) -> str:
    """The same number with its last (check) digit changed, so that stdnum rejects it."""
    last = int(number[-1])
    return number[:-1] + str((last + 1) % 10)


def is_valid_national_id(number: str, country: str, is_organisation: bool) -> bool:
    """Whether python-stdnum accepts ``number`` as the given kind of id of ``country``."""
    if country == "NO":
        module = stdnum_no_orgnr if is_organisation else fodselsnummer
    elif country == "SE":
        module = stdnum_se_orgnr if is_organisation else personnummer
    else:
        return False
    return module.is_valid(number)
