"""The gates before sending, on hand-made frames: each gate on its boundary day and the day before,
the country defaults from include/rules/gates.yaml, the agreement's overrides, the reminder service."""

from __future__ import annotations

import json
from datetime import date, timedelta

import pandas as pd
import pytest
from test_rules import CLIENT, Register, invoice, reasons

from inkasso import gates
from inkasso.dispatch import rules
from inkasso.dispatch.rules import apply_dispatch_rules
from inkasso.gates import GateConfigError, Gates, apply_gates, gates_for, load_settings

DUE = date(2026, 9, 15)


def row(invoice_id=1, *, due=DUE, reminders=1, currency="NOK", customer_id=10, amount=10_000):
    """One marked invoice (test_rules' row) with the fields the gates look at."""
    return invoice(invoice_id, customer_id, amount) | {
        "due_date": due,
        "reminder_count": reminders,
        "currency": currency,
    }


def gate(day, *, min_reminders=0, min_days=0, years=3, currency="NOK"):
    return Gates(
        business_date=day,
        currency=currency,
        min_reminders=min_reminders,
        min_days_after_due=min_days,
        limitation_years=years,
    )


def held(rows, g):
    passed, holds = apply_gates(pd.DataFrame(rows), g)
    return list(passed["invoice_id"]), dict(zip(holds["invoice_id"], holds["reason"], strict=True))


# ------------------------------------------------------------------ each gate and its edge


def test_not_due_is_held_on_the_due_date_and_goes_the_day_after():
    assert held([row()], gate(DUE)) == ([], {1: gates.NOT_DUE})
    assert held([row()], gate(DUE - timedelta(days=1))) == ([], {1: gates.NOT_DUE})
    assert held([row()], gate(DUE + timedelta(days=1))) == ([1], {})


def test_days_after_due_boundary_day_goes_and_the_day_before_waits():
    g = dict(min_days=14)
    passed, holds = apply_gates(pd.DataFrame([row()]), gate(DUE + timedelta(days=13), **g))
    assert passed.empty and list(holds["reason"]) == [gates.NOT_DUE_LONG_ENOUGH]
    assert (
        holds["detail"][0] == "due 2026-09-15; may go from 2026-09-29 (14 days after the due date)"
    )
    assert held([row()], gate(DUE + timedelta(days=14), **g)) == ([1], {})


def test_too_few_reminders_held_until_the_varsel_is_counted():
    day = DUE + timedelta(days=30)
    passed, holds = apply_gates(pd.DataFrame([row(reminders=0)]), gate(day, min_reminders=1))
    assert passed.empty and list(holds["reason"]) == [gates.TOO_FEW_REMINDERS]
    assert "0 reminder(s) sent; 1 needed" in holds["detail"][0]
    assert held([row(reminders=1)], gate(day, min_reminders=1)) == ([1], {})


def test_time_barred_from_the_anniversary_of_the_due_date_not_the_day_before():
    due = date(2019, 3, 1)
    passed, holds = apply_gates(pd.DataFrame([row(due=due)]), gate(date(2022, 3, 1)))
    assert passed.empty and list(holds["reason"]) == [gates.TIME_BARRED]
    assert holds["detail"][0] == (
        "due 2019-03-01; time-barred from 2022-03-01 (limitation 3 years from the due date)"
    )
    assert held([row(due=due)], gate(date(2022, 2, 28))) == ([1], {})
    assert held([row(due=due)], gate(date(2022, 3, 1), years=None)) == ([1], {})  # switched off


def test_a_claim_due_on_29_february_is_barred_from_28_february():
    due = date(2024, 2, 29)
    assert held([row(due=due)], gate(date(2027, 2, 28))) == ([], {1: gates.TIME_BARRED})
    assert held([row(due=due)], gate(date(2027, 2, 27))) == ([1], {})


def test_other_currency_than_the_agreements_is_held():
    day = DUE + timedelta(days=30)
    passed, holds = apply_gates(pd.DataFrame([row(1), row(2, currency="EUR")]), gate(day))
    assert list(passed["invoice_id"]) == [1]
    assert list(holds["reason"]) == [gates.CURRENCY_MISMATCH]
    assert holds["detail"][0] == "invoice in EUR, the agreement's currency is NOK"


def test_each_invoice_gets_one_reason_the_first_that_applies():
    # an EUR invoice from 2019 with no reminder: the currency is named first
    g = gate(date(2026, 11, 2), min_reminders=1, min_days=14)
    rows = [
        row(1, due=date(2019, 1, 10), reminders=0, currency="EUR"),
        row(2, due=date(2019, 1, 10), reminders=0),
        row(3, due=date(2026, 11, 20), reminders=0),
        row(4, due=date(2026, 10, 25), reminders=0),
        row(5, due=date(2026, 10, 25), reminders=1),
        row(6, due=date(2026, 10, 19), reminders=1),
    ]
    assert held(rows, g) == (
        [6],
        {
            1: gates.CURRENCY_MISMATCH,
            2: gates.TIME_BARRED,
            3: gates.NOT_DUE,
            4: gates.TOO_FEW_REMINDERS,
            5: gates.NOT_DUE_LONG_ENOUGH,
        },
    )


# ------------------------------------------------------------------ configuration


def test_country_defaults_from_the_yaml_file():
    no, se = load_settings("NO"), load_settings("SE")
    assert (no.min_reminders, no.min_days_after_due, no.limitation_years) == (1, 14, 3)
    assert (se.min_reminders, se.min_days_after_due, se.limitation_years) == (0, 10, 3)
    other = load_settings("DK")  # no section: the defaults
    assert (other.min_reminders, other.min_days_after_due, other.limitation_years) == (0, 1, 3)


def test_agreement_overrides_win_and_bad_ones_name_the_agreement():
    mine = load_settings("SE", json.dumps({"min_days_after_due": 21, "limitation_years": 10}))
    assert (mine.min_days_after_due, mine.limitation_years, mine.min_reminders) == (21, 10, 0)
    assert load_settings("SE", '{"limitation_years": null}').limitation_years is None
    with pytest.raises(GateConfigError, match="svea ink_agreement.gates: unknown gate keys"):
        load_settings("SE", '{"min_day": 3}', where="svea")
    with pytest.raises(GateConfigError, match="svea: ink_agreement.gates is not JSON"):
        load_settings("SE", "{min_days", where="svea")
    with pytest.raises(GateConfigError, match="must be a whole number"):
        load_settings("SE", '{"min_reminders": -1}')


def test_norway_with_reminder_service_goes_at_the_agreements_level_and_days():
    settings = load_settings("NO")
    own = gates_for(settings, country="NO", business_date=DUE, currency="NOK")
    assert (own.min_reminders, own.min_days_after_due) == (1, 14)
    agency = gates_for(
        settings,
        country="NO",
        business_date=DUE,
        currency="NOK",
        reminder_service=True,
        reminder_level=0,
    )
    assert (agency.min_reminders, agency.min_days_after_due) == (0, 1)
    # the agency sends the varsel itself: the day after the due date, with no reminder, it goes
    day_after = gates_for(
        settings,
        country="NO",
        business_date=DUE + timedelta(days=1),
        currency="NOK",
        reminder_service=True,
    )
    assert held([row(reminders=0)], day_after) == ([1], {})


def test_reminder_service_level_holds_invoices_below_it():
    g = gates_for(
        load_settings("SE"),
        country="SE",
        business_date=DUE + timedelta(days=5),
        currency="SEK",
        reminder_service=True,
        reminder_level=1,
    )
    rows = [row(1, reminders=0, currency="SEK"), row(2, reminders=1, currency="SEK")]
    assert held(rows, g) == ([2], {1: gates.TOO_FEW_REMINDERS})
    passed, holds = apply_gates(pd.DataFrame(rows), g)
    assert "the agreement's reminder level" in holds["detail"][0]


# ------------------------------------------------------------------ inside the rules


def test_gated_invoices_do_not_count_towards_the_minimum():
    # 30.00 + 30.00 reaches 50.00 only with the invoice not yet due: both wait
    g = gate(date(2026, 10, 1), min_days=14)
    plan = apply_dispatch_rules(
        pd.DataFrame([row(1, amount=3_000), row(2, amount=3_000, due=date(2026, 10, 5))]),
        CLIENT,
        Register({}),
        gates=g,
    )
    assert plan.cases.empty
    assert reasons(plan) == {1: rules.BELOW_MINIMUM, 2: gates.NOT_DUE}


def test_minimum_never_adds_amounts_across_currencies():
    # without the currency gate (rules alone) 30 NOK + 30 EUR must not reach 50 of anything
    plan = apply_dispatch_rules(
        pd.DataFrame([row(1, amount=3_000), row(2, amount=3_000, currency="EUR")]),
        CLIENT,
        Register({}),
    )
    assert plan.cases.empty
    assert reasons(plan) == {1: rules.BELOW_MINIMUM, 2: rules.BELOW_MINIMUM}


def test_a_bare_no_country_key_is_refused_not_read_as_false(tmp_path):
    path = tmp_path / "gates.yaml"
    path.write_text("defaults: {}\ncountries:\n  NO: {min_reminders: 1}\n", encoding="utf-8")
    with pytest.raises(GateConfigError, match="quote the country codes"):
        load_settings("NO", path=path)
