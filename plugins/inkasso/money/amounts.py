"""Small helpers for money and dates shared by the flows (integer øre, plain dates)."""

from __future__ import annotations

from datetime import date, datetime


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


def format_ore(ore: int) -> str:
    """Integer øre/öre as a plain amount with two decimals ('-1234.50'); never through float."""
    ore = int(ore)
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"
