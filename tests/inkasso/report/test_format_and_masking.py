"""Amounts as finance reads them, and national ids masked in any free text."""

from __future__ import annotations

import pytest

from inkasso.money.amounts import format_money as format_amount
from inkasso.report.masking import mask_text


@pytest.mark.parametrize(
    ("ore", "text"),
    [
        (0, "0,00 NOK"),
        (5, "0,05 NOK"),
        (1234567, "12 345,67 NOK"),
        (-1234567, "-12 345,67 NOK"),
        (100000000000, "1 000 000 000,00 NOK"),
        (10**20 + 1, "1 000 000 000 000 000 000,01 NOK"),  # no float rounding
    ],
)
def test_amounts_from_integer_ore(ore, text):
    assert format_amount(ore, "NOK") == text


def test_amount_without_currency_and_none():
    assert format_amount(1999) == "19,99"
    assert format_amount(None, "SEK") == ""


@pytest.mark.parametrize(
    ("raw", "masked"),
    [
        ("fnr 01019012345 ukjent", "fnr 010190***** ukjent"),
        ("pnr 900101-1234 saknas", "pnr 900101***** saknas"),
        ("pnr 19900101-1234", "pnr 199001*******"),
        ("pnr 199001011234.", "pnr 199001******."),
        ("9001011234", "900101****"),
    ],
)
def test_national_ids_are_masked_in_free_text(raw, masked):
    assert mask_text(raw) == masked


def test_other_numbers_are_left_alone():
    text = "KID 1234567890123456789, amount 12345, org 923456783, line 3"
    assert mask_text(text) == text
    assert mask_text(None) == ""
    assert mask_text(mask_text("01019012345")) == "010190*****"
