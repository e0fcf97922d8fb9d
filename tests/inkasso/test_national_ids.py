"""The whole-column checks of plain person numbers give stdnum's answers, id by id."""

from __future__ import annotations

import random

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.no import fodselsnummer
from stdnum.se import personnummer

from inkasso import national_ids
from inkasso.national_ids import valid_ids


def _no_ids(rng: random.Random, n: int) -> list[str]:
    """Norwegian 11-digit ids: D-, H- and FH-numbers, impossible dates, all centuries; half
    with correct check digits (so the date rules decide), half with random ones."""
    ids = []
    for _ in range(n):
        day = rng.choice([rng.randint(0, 99), rng.randint(1, 31), rng.randint(41, 71)])
        month = rng.choice([rng.randint(0, 99), rng.randint(1, 12), rng.randint(41, 52)])
        base = f"{day:02d}{month:02d}{rng.randint(0, 99):02d}{rng.randint(0, 999):03d}"
        first = fodselsnummer.calc_check_digit1(base)
        second = fodselsnummer.calc_check_digit2(base + first[-1])
        checks = first[-1] + second[-1] if rng.random() < 0.5 else f"{rng.randint(0, 99):02d}"
        ids.append(base + checks)
    return ids


def _se_ids(rng: random.Random, n: int) -> list[str]:
    """Swedish ids with '-', '+' or no separator; half with a correct Luhn digit."""
    ids = []
    for _ in range(n):
        month = rng.choice([rng.randint(0, 99), rng.randint(1, 12)])
        day = rng.choice([rng.randint(0, 99), rng.randint(1, 31), 29])
        digits = f"{rng.randint(0, 99):02d}{month:02d}{day:02d}{rng.randint(0, 999):03d}"
        last = rng.randint(0, 9)
        if rng.random() < 0.5:
            last = next(c for c in range(10) if personnummer.luhn.is_valid(f"{digits}{c}"))
        sep = rng.choice(["-", "+", ""])
        ids.append(f"{digits[:6]}{sep}{digits[6:]}{last}")
    return ids


def test_norwegian_person_numbers_as_stdnum_says():
    ids = _no_ids(random.Random(7), 20_000)
    fast = national_ids._fast_no_persons(ids)
    assert fast.tolist() == [fodselsnummer.is_valid(v) for v in ids]
    assert 1_000 < fast.sum() < 19_000  # both answers are well represented


def test_swedish_person_numbers_as_stdnum_says():
    ids = _se_ids(random.Random(8), 20_000)
    fast = national_ids._fast_se_persons(ids)
    assert fast.tolist() == [personnummer.is_valid(v) for v in ids]
    assert 1_000 < fast.sum() < 19_000


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.text(alphabet="0123456789-+ :x\u2013", min_size=0, max_size=14),
            st.sampled_from(["NO", "SE", "DK"]),
            st.booleans(),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_any_id_gets_the_answer_of_is_valid_id(rows):
    frame = pd.DataFrame(rows, columns=["national_id", "country", "is_organisation"])
    expected = [national_ids.is_valid_id(n, c, o) for n, c, o in rows]
    assert valid_ids(frame).tolist() == expected


def test_missing_and_odd_ids_are_invalid():
    frame = pd.DataFrame(
        {
            "national_id": [None, "", "15058612364", "811228-9874", "8112289874", "0"],
            "country": ["NO", "SE", "NO", "SE", "SE", "NO"],
            "is_organisation": [False, False, False, False, False, False],
        }
    )
    assert valid_ids(frame).tolist() == [False, False, True, True, True, False]
