"""The dispatch rules on hand-made frames: eligibility, ids, the four address paths, the minimum."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from inkasso.dispatch import rules
from inkasso.dispatch.rules import ClientSettings, apply_dispatch_rules

PERSON_NO = "15058612364"  # valid fødselsnummer
ORG_NO = "923609016"  # valid organisasjonsnummer
HOME = {"street": "Storgata 1", "postcode": "0155", "city": "Oslo"}
MOVED = {"street": "Fjordveien 9", "postcode": "5003", "city": "Bergen"}
BILLING = {"street": "Postboks 12", "postcode": "0101", "city": "Oslo"}
MANUAL = {"street": "Kirkegata 3", "postcode": "7011", "city": "Trondheim"}
NONE = {"street": None, "postcode": None, "city": None}


def invoice(
    invoice_id=1,
    customer_id=10,
    amount=10_000,
    *,
    national_id=PERSON_NO,
    org=False,
    status="open",
    disputed=False,
    open_case=None,
    earlier_case=None,
    manual=None,
    billing=NONE,
    postal=HOME,
    postal_source="manual",
    remaining=None,
):
    """One row as select_marked_invoices.sql returns it."""
    manual = manual or NONE
    return {
        "invoice_id": invoice_id,
        "customer_id": customer_id,
        "invoice_no": f"F{invoice_id}",
        "invoice_date": date(2026, 9, 1),
        "due_date": date(2026, 9, 15),
        "currency": "NOK",
        "original_amount": amount,
        "remaining_amount": amount if remaining is None else remaining,
        "kid": "12345678903",
        "reminder_count": 2,
        "status": status,
        "disputed": disputed,
        "addr_street": manual["street"],
        "addr_postcode": manual["postcode"],
        "addr_city": manual["city"],
        "addr_changed_manually": manual is not NONE,
        "customer_no": f"K{customer_id}",
        "debtor_name": "Kari Nordmann",
        "is_organisation": org,
        "national_id": national_id,
        "country": "NO",
        "postal_street": postal["street"],
        "postal_postcode": postal["postcode"],
        "postal_city": postal["city"],
        "postal_source": postal_source,
        "billing_street": billing["street"],
        "billing_postcode": billing["postcode"],
        "billing_city": billing["city"],
        "open_case_id": open_case,
        "earlier_case_id": earlier_case,
    }


class Register:
    """A register that knows some ids and records what it was asked (one bulk call expected)."""

    def __init__(self, known: dict[str, dict]):
        self.known = known
        self.calls: list[list[str]] = []

    def __call__(self, ids):
        self.calls.append(list(ids))
        return pd.DataFrame(
            [{"national_id": i, "name": "X", **self.known[i]} for i in ids if i in self.known],
            columns=["national_id", "name", "street", "postcode", "city"],
        )


CLIENT = ClientSettings(client_id=1, min_collection_amount=5_000)


def run(rows, register=None, client=CLIENT):
    return apply_dispatch_rules(
        pd.DataFrame(rows), client, register if register is not None else Register({})
    )


def reasons(plan):
    return dict(zip(plan.holds["invoice_id"], plan.holds["reason"], strict=True))


def test_exactly_the_minimum_is_sent_and_one_ore_under_waits():
    plan = run(
        [
            invoice(1, customer_id=10, amount=3_000),
            invoice(2, customer_id=10, amount=2_000),
            invoice(3, customer_id=11, amount=2_999),
            invoice(4, customer_id=11, amount=2_000),
        ]
    )
    assert sorted(plan.cases["invoice_id"]) == [1, 2]
    assert reasons(plan) == {3: rules.BELOW_MINIMUM, 4: rules.BELOW_MINIMUM}
    # the amounts as the client's locale writes them, in the invoices' currency
    assert plan.holds["detail"].iloc[0] == "customer total 49,99 NOK is below the minimum 50,00 NOK"


def test_only_open_undisputed_invoices_not_at_collection_are_sent():
    plan = run(
        [
            invoice(1, amount=6_000),
            invoice(2, amount=6_000, status="paid", remaining=0),
            invoice(3, amount=6_000, disputed=True),
            invoice(4, amount=6_000, status="at_collection"),
            invoice(5, amount=6_000, open_case=77),
            invoice(6, amount=6_000, remaining=0),
            invoice(7, amount=6_000, earlier_case=55),
        ]
    )
    assert list(plan.cases["invoice_id"]) == [1]
    assert reasons(plan) == {
        2: rules.NOT_OPEN,
        3: rules.DISPUTED,
        4: rules.ALREADY_AT_COLLECTION,
        5: rules.ALREADY_AT_COLLECTION,
        6: rules.NOTHING_TO_COLLECT,
        7: rules.EARLIER_CASE,
    }
    assert "case 55 " in plan.holds.set_index("invoice_id").loc[7, "detail"]


def test_minimum_counts_only_what_is_left_after_other_holds():
    # 40 + 20 reaches 50, but the disputed 20 does not count: the 40 waits.
    plan = run([invoice(1, amount=4_000), invoice(2, amount=2_000, disputed=True)])
    assert plan.cases.empty
    assert reasons(plan) == {1: rules.BELOW_MINIMUM, 2: rules.DISPUTED}


def test_invalid_national_id_holds_all_of_the_customers_invoices():
    bad = PERSON_NO[:-1] + str((int(PERSON_NO[-1]) + 1) % 10)
    plan = run(
        [invoice(1, national_id=bad), invoice(2, national_id=bad), invoice(3, customer_id=12)]
    )
    assert list(plan.cases["invoice_id"]) == [3]
    assert reasons(plan) == {1: rules.INVALID_ID, 2: rules.INVALID_ID}


def test_rule1_manual_address_kept_and_person_postal_refreshed_from_register():
    reg = Register({PERSON_NO: MOVED})
    plan = run([invoice(manual=MANUAL)], reg)
    case = plan.cases.iloc[0]
    assert (case["street"], case["address_rule"]) == (MANUAL["street"], rules.RULE_MANUAL)
    assert plan.invoice_address_updates.empty  # the invoice keeps what a person typed
    assert plan.customer_address_updates.to_dict("records") == [{"customer_id": 10, **MOVED}]
    assert len(reg.calls) == 1


def test_rule1_organisation_postal_address_is_not_refreshed():
    reg = Register({ORG_NO: MOVED})
    plan = run([invoice(national_id=ORG_NO, org=True, manual=MANUAL)], reg)
    assert plan.cases.iloc[0]["street"] == MANUAL["street"]
    assert plan.customer_address_updates.empty


def test_rule2_billing_address_put_on_invoice_and_postal_refreshed():
    reg = Register({PERSON_NO: MOVED})
    plan = run([invoice(billing=BILLING)], reg)
    assert plan.cases.iloc[0]["address_rule"] == rules.RULE_BILLING
    assert plan.invoice_address_updates.to_dict("records") == [{"invoice_id": 1, **BILLING}]
    assert plan.customer_address_updates.to_dict("records") == [{"customer_id": 10, **MOVED}]


def test_invalid_manual_address_falls_through_to_billing():
    plan = run(
        [
            invoice(
                manual={"street": "Kirkegata 3", "postcode": None, "city": "Oslo"}, billing=BILLING
            )
        ]
    )
    assert plan.cases.iloc[0]["address_rule"] == rules.RULE_BILLING


def test_rule3_register_address_looked_up_again_and_written_to_both():
    reg = Register({PERSON_NO: MOVED})
    plan = run([invoice(postal=HOME, postal_source="register")], reg)
    case = plan.cases.iloc[0]
    assert (case["street"], case["address_rule"]) == (MOVED["street"], rules.RULE_REGISTER_AGAIN)
    assert plan.invoice_address_updates.to_dict("records") == [{"invoice_id": 1, **MOVED}]
    assert plan.customer_address_updates.to_dict("records") == [{"customer_id": 10, **MOVED}]


def test_rule4_no_address_anywhere_asks_the_register():
    reg = Register({PERSON_NO: MOVED})
    plan = run([invoice(postal=NONE)], reg)
    assert plan.cases.iloc[0]["address_rule"] == rules.RULE_REGISTER_NEW
    assert plan.invoice_address_updates.to_dict("records") == [{"invoice_id": 1, **MOVED}]
    assert plan.customer_address_updates.to_dict("records") == [{"customer_id": 10, **MOVED}]


def test_no_address_anywhere_and_none_in_register_is_held():
    plan = run([invoice(postal=NONE)], Register({}))
    assert plan.cases.empty
    assert reasons(plan) == {1: rules.NO_ADDRESS}
    assert plan.customer_address_updates.empty and plan.invoice_address_updates.empty


def test_manual_postal_address_is_used_without_asking_the_register():
    reg = Register({PERSON_NO: MOVED})
    plan = run([invoice(postal=HOME, postal_source="manual")], reg)
    assert plan.cases.iloc[0]["street"] == HOME["street"]
    assert reg.calls == []


def test_register_lookup_off_holds_invoices_without_address():
    client = ClientSettings(client_id=1, min_collection_amount=5_000, register_lookup=False)
    plan = apply_dispatch_rules(pd.DataFrame([invoice(postal=NONE)]), client, None)
    assert reasons(plan) == {1: rules.NO_ADDRESS}
    assert "register lookup is off" in plan.holds["detail"].iloc[0]


def test_register_asked_once_for_many_invoices():
    reg = Register({PERSON_NO: MOVED})
    rows = [invoice(i, customer_id=i, postal=NONE) for i in range(1, 200)]
    plan = run(rows, reg)
    assert len(plan.cases) == 199
    assert len(reg.calls) == 1


@pytest.mark.parametrize("amount", [5_000, 4_999])
def test_single_invoice_at_the_edge_of_the_minimum(amount):
    plan = run([invoice(amount=amount)])
    assert len(plan.cases) == (1 if amount >= 5_000 else 0)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.just(float("nan")),
            st.just(pd.NA),
            st.text(alphabet=" \t\u00a0\u2003aÅ1", max_size=4),
            st.integers(-5, 99999),
        ),
        max_size=12,
    )
)
def test_an_address_field_is_blank_when_missing_or_only_whitespace(values):
    series = pd.Series(values, dtype=object)
    expected = [
        v is None or v is pd.NA or (isinstance(v, float) and v != v) or not str(v).strip()
        for v in values
    ]
    assert rules._blank(series).tolist() == expected
    assert rules._blank(series.astype("string")).tolist() == expected
