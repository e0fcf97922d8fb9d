"""Legal and sanity gates before a case is sent: each a hold with its reason, per country and agreement.

Pure functions on pandas frames (no database, no Airflow). The settings come from
``include/rules/gates.yaml`` (defaults, then the agreement's country) and the agreement's own
JSON overrides in ``ink_agreement.gates``; the reference day is the run's business date.

The gates, in the order they are checked (an invoice gets the first reason that applies):

``currency_mismatch``
    the invoice's currency is not the agreement's (the client's currency). Always on: a file has
    one currency in its header and sums its amounts in the trailer.
``time_barred``
    the business date is on or after ``due_date + limitation_years`` (the claim is foreldet /
    preskriberad: the agency must not chase it).
``not_due``
    the business date is on or before the due date. Always on.
``too_few_reminders``
    fewer reminders than ``min_reminders`` (Norway: the inkassovarsel, ``reminder_count >= 1``;
    with the agreement's reminder service: its ``reminder_level``).
``not_due_long_enough``
    the business date is before ``due_date + min_days_after_due`` (with the reminder service:
    ``reminder_service_days_after_due``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from inkasso.config import read_yaml

CURRENCY_MISMATCH = "currency_mismatch"
TIME_BARRED = "time_barred"
NOT_DUE = "not_due"
TOO_FEW_REMINDERS = "too_few_reminders"
NOT_DUE_LONG_ENOUGH = "not_due_long_enough"

HOLD_COLUMNS = ["invoice_id", "customer_id", "reason", "detail"]


class GateConfigError(ValueError):
    """The gates' configuration (YAML or an agreement's JSON) is wrong; names where."""


@dataclass(frozen=True)
class GateSettings:
    """One country's (or agreement's) gate settings, as in ``include/rules/gates.yaml``."""

    min_reminders: int = 0
    min_days_after_due: int = 1
    reminder_service_days_after_due: int = 1
    limitation_years: int | None = 3


@dataclass(frozen=True)
class Gates:
    """The gates in force for one agreement on one business day."""

    business_date: date
    currency: str  # the agreement's (the client's) currency
    min_reminders: int
    min_days_after_due: int
    limitation_years: int | None
    why_reminders: str = ""  # said in the hold's detail, e.g. "the inkassovarsel"


_KEYS = {f.name for f in fields(GateSettings)}


def gates_file() -> Path:
    """The country defaults: ``include/rules/gates.yaml``."""
    from inkasso import config

    return Path(config.RULES_DIR) / "gates.yaml"


def _check(values: dict[str, Any], where: str) -> dict[str, Any]:
    if not isinstance(values, dict):
        raise GateConfigError(f"{where}: gates must be a mapping of {sorted(_KEYS)}")
    unknown = set(values) - _KEYS
    if unknown:
        raise GateConfigError(
            f"{where}: unknown gate keys {sorted(unknown)} (known: {sorted(_KEYS)})"
        )
    for key, value in values.items():
        nullable = key == "limitation_years"
        if value is None and nullable:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise GateConfigError(f"{where}: {key} must be a whole number >= 0, got {value!r}")
    return values


def load_settings(
    country: str, overrides: str | dict | None = None, *, where: str = "", path: Path | None = None
) -> GateSettings:
    """The settings for ``country`` with the agreement's ``overrides`` (its JSON text) on top."""
    source = path or gates_file()
    raw = read_yaml(source) or {}
    merged = dict(_check(raw.get("defaults") or {}, f"{source.name} defaults"))
    countries = raw.get("countries") or {}
    if any(not isinstance(key, str) for key in countries):  # a bare NO is YAML's false
        raise GateConfigError(
            f"{source.name}: quote the country codes ({sorted(map(str, countries))})"
        )
    merged |= _check(countries.get(country) or {}, f"{source.name} {country}")
    if isinstance(overrides, str) and overrides.strip():
        try:
            overrides = json.loads(overrides)
        except json.JSONDecodeError as err:
            raise GateConfigError(
                f"{where or 'agreement'}: ink_agreement.gates is not JSON: {err}"
            ) from None
    if overrides:
        merged |= _check(overrides, f"{where or 'agreement'} ink_agreement.gates")
    return GateSettings(**merged)


def gates_for(
    settings: GateSettings,
    *,
    country: str,
    business_date: date,
    currency: str,
    reminder_service: bool = False,
    reminder_level: int | None = None,
) -> Gates:
    """The gates in force: with the reminder service, the agency's level and waiting days."""
    if reminder_service:
        return Gates(
            business_date=business_date,
            currency=currency,
            min_reminders=int(reminder_level or 0),
            min_days_after_due=settings.reminder_service_days_after_due,
            limitation_years=settings.limitation_years,
            why_reminders="the agreement's reminder level (the agency runs the reminders)",
        )
    return Gates(
        business_date=business_date,
        currency=currency,
        min_reminders=settings.min_reminders,
        min_days_after_due=settings.min_days_after_due,
        limitation_years=settings.limitation_years,
        why_reminders="the inkassovarsel" if country == "NO" else f"{country} gates",
    )


def _hold(frame: pd.DataFrame, mask: pd.Series, reason: str, detail: pd.Series) -> pd.DataFrame:
    held = frame.loc[mask, ["invoice_id", "customer_id"]].copy()
    held["reason"] = reason
    held["detail"] = detail
    return held


def _iso(days: pd.Series) -> pd.Series:
    return days.dt.strftime("%Y-%m-%d")


def apply_gates(frame: pd.DataFrame, gates: Gates) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split ``frame`` (select_marked_invoices.sql rows) into (passed, holds with HOLD_COLUMNS)."""
    if frame.empty:
        return frame, pd.DataFrame(columns=HOLD_COLUMNS)
    remaining = pd.Series(True, index=frame.index)
    holds = []
    for mask, reason, detail in _gates(frame, gates):
        mask = mask & remaining  # an invoice gets the first reason that applies
        if mask.any():
            holds.append(_hold(frame, mask, reason, detail(mask)))
            remaining = remaining & ~mask
    non_empty = [h for h in holds if len(h)]
    held = (
        pd.concat(non_empty, ignore_index=True) if non_empty else pd.DataFrame(columns=HOLD_COLUMNS)
    )
    return frame[remaining], held[HOLD_COLUMNS]


def _gates(frame: pd.DataFrame, gates: Gates) -> list:
    """The gates in their order: (whom it would hold, reason, detail). ``detail`` spells the
    texts of the rows held, given their mask: only those, not one text per invoice read."""
    today = pd.Timestamp(gates.business_date)
    due = pd.to_datetime(frame["due_date"])
    currency = frame["currency"].astype("string").fillna("")
    reminders = frame["reminder_count"].astype("int64")
    allowed_from = due + pd.Timedelta(days=gates.min_days_after_due)
    checks = [
        (
            currency != gates.currency,
            CURRENCY_MISMATCH,
            lambda m: (
                "invoice in " + currency[m] + f", the agreement's currency is {gates.currency}"
            ),
        )
    ]
    if gates.limitation_years is not None:
        # calendar years: a claim due on 29 February is barred from 28 February
        barred_from = due + pd.DateOffset(years=gates.limitation_years)
        checks.append(
            (
                today >= barred_from,
                TIME_BARRED,
                lambda m: (
                    "due "
                    + _iso(due[m])
                    + "; time-barred from "
                    + _iso(barred_from[m])
                    + f" (limitation {gates.limitation_years} years from the due date)"
                ),
            )
        )
    return checks + [
        (
            today <= due,
            NOT_DUE,
            lambda m: "due " + _iso(due[m]) + f", not yet due on {gates.business_date}",
        ),
        (
            reminders < gates.min_reminders,
            TOO_FEW_REMINDERS,
            lambda m: (
                reminders[m].astype(str) + f" reminder(s) sent; {gates.min_reminders} "
                f"needed before a case ({gates.why_reminders})"
            ),
        ),
        (
            today < allowed_from,
            NOT_DUE_LONG_ENOUGH,
            lambda m: (
                "due "
                + _iso(due[m])
                + "; may go from "
                + _iso(allowed_from[m])
                + f" ({gates.min_days_after_due} days after the due date)"
            ),
        ),
    ]
