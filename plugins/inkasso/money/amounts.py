"""Small helpers for money and dates shared by the flows (integer øre, plain dates)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

# the locale a currency's amounts are written in, when the caller names none
LOCALE_OF_CURRENCY = {"NOK": "nb_NO", "SEK": "sv_SE", "DKK": "da_DK", "EUR": "fi_FI"}
DEFAULT_LOCALE = "nb_NO"
# babel writes thin and no-break spaces and a Unicode minus; mails in plain text, fixed-width CLI
# columns and the tests read plain ones
_PLAIN = str.maketrans({"\u00a0": " ", "\u202f": " ", "\u2212": "-"})


def plain_date(value) -> date:
    """A plain ``datetime.date`` from a date, a datetime, pendulum's types or ISO text.

    Airflow hands pendulum ``Date``/``DateTime`` objects around; SQLite's driver refuses them and
    SQLite returns dates as text, so every date that reaches SQL or pandas goes through here.
    """
    if isinstance(value, datetime):
        return date(value.year, value.month, value.day)
    if isinstance(value, date):
        return date(value.year, value.month, value.day)
    if hasattr(value, "date") and callable(value.date):  # pandas Timestamp
        return plain_date(value.date())
    return date.fromisoformat(str(value)[:10])


def format_money(ore: int | None, currency: str = "", *, locale: str | None = None) -> str:
    """Øre/öre as the locale writes it (``'12 345,67 NOK'``): the one money formatter.

    The mail, the Inkasso view, the CLI and the demo all print money through here. The locale is
    the caller's (a client's), else the currency's, else Norwegian; the amount goes through
    ``Decimal``, never float, so any size prints exactly. ``None`` prints as an empty string.
    """
    from babel.numbers import format_decimal

    if ore is None:
        return ""
    where = locale or LOCALE_OF_CURRENCY.get(currency, DEFAULT_LOCALE)
    amount = Decimal(int(ore)).scaleb(-2)
    text = format_decimal(amount, format="#,##0.00", locale=where).translate(_PLAIN)
    return f"{text} {currency}" if currency else text
