"""The dispatch rules: which marked invoices go to collection today, with which address.

Pure functions on pandas frames (no database, no Airflow), so every rule is tested on its own.
The input is the frame of ``include/sql/erp/select_marked_invoices.sql``; the output a
``DispatchPlan``: the invoices to send (with the address they are sent with), the ones held back
with a reason, and the address updates to write back to the ERP.

Order of the checks, and why:
1. eligibility (open, unpaid, undisputed, not at collection, no earlier case) - nothing else
   matters otherwise;
2. the legal and sanity gates (``inkasso.gates``: currency, time-barred, not due, reminders,
   days after the due date) - before any register lookup is spent on an invoice that waits;
3. a valid national id / organisation number - the agency cannot sue without one;
4. the address rules (DESIGN.md, four paths) - an invoice with no address anywhere waits;
5. every value can be written in the agency's file (``unwritable_field``: the file's encoding,
   its delimiter, line breaks, widths) - one bad name holds its invoice, never the whole file;
6. the client's minimum, over what is left per customer and currency - so no other hold can
   leave a customer's remainder below the minimum and still be sent, and amounts in different
   currencies are never added.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from inkasso.gates import Gates, apply_gates
from inkasso.money.amounts import format_money
from inkasso.national_ids import valid_ids

ADDRESS_FIELDS = ["street", "postcode", "city"]
HOLD_COLUMNS = ["invoice_id", "customer_id", "reason", "detail"]

# Hold reasons as they appear in the report.
NOT_OPEN = "not_open"
ALREADY_AT_COLLECTION = "already_at_collection"
EARLIER_CASE = "earlier_case"
DISPUTED = "disputed"
NOTHING_TO_COLLECT = "nothing_to_collect"
INVALID_ID = "invalid_national_id"
NO_ADDRESS = "no_valid_address"
BELOW_MINIMUM = "below_minimum"
UNWRITABLE = "unwritable_field"

# Which address rule gave the address a case is sent with.
RULE_MANUAL = "invoice_manual"  # 1: address changed by hand on the invoice
RULE_BILLING = "customer_billing"  # 2: the customer's billing address
RULE_REGISTER_AGAIN = "register_refresh"  # 3: postal address from the register, looked up again
RULE_POSTAL = "customer_postal"  # the customer's own (manual) postal address
RULE_REGISTER_NEW = "register_lookup"  # 4: no valid address anywhere, register asked


@dataclass(frozen=True)
class ClientSettings:
    """The client's collection settings from the ERP."""

    client_id: int
    min_collection_amount: int  # øre/öre
    register_lookup: bool = True


@dataclass
class DispatchPlan:
    """What the rules decided for one agreement and day."""

    cases: pd.DataFrame  # invoices to send, with street/postcode/city and address_rule
    holds: pd.DataFrame  # HOLD_COLUMNS
    invoice_address_updates: pd.DataFrame  # invoice_id, street, postcode, city
    customer_address_updates: pd.DataFrame  # customer_id, street, postcode, city


def _blank(series: pd.Series) -> pd.Series:
    """True where a value is missing or only whitespace (a number counts as filled).

    Each distinct value is tested once: an address repeats on every invoice of its customer,
    and a Python test per row of every address field was a fifth of dispatch's rules.
    """
    codes, distinct = pd.factorize(series)  # missing values get the code -1
    blank = np.fromiter(
        (not str(v).strip() for v in distinct.to_numpy(dtype=object)),
        dtype=bool,
        count=len(distinct),
    )
    # a missing value (-1) takes the last entry, the True appended for it
    return pd.Series(np.append(blank, True)[codes], index=series.index)


def valid_address(frame: pd.DataFrame, prefix: str) -> pd.Series:
    """True where ``<prefix>street``, ``<prefix>postcode`` and ``<prefix>city`` are all filled."""
    ok = pd.Series(True, index=frame.index)
    for field in ADDRESS_FIELDS:
        ok &= ~_blank(frame[f"{prefix}{field}"])
    return ok


def _hold(frame: pd.DataFrame, mask: pd.Series, reason: str, detail) -> pd.DataFrame:
    """The held rows with their reason; ``detail`` is one text, texts indexed like ``frame``,
    or a function of ``mask`` that spells the held rows' texts (only theirs)."""
    if not mask.any():  # most reasons hold no one: no empty frame taken out of the chunk
        return pd.DataFrame(columns=HOLD_COLUMNS)
    held = frame.loc[mask, ["invoice_id", "customer_id"]].copy()
    held["reason"] = reason
    if callable(detail):
        held["detail"] = detail(mask)
    else:
        held["detail"] = detail if isinstance(detail, str) else detail[mask]
    return held


def apply_dispatch_rules(
    invoices: pd.DataFrame,
    client: ClientSettings,
    lookup: Callable[[list[str]], pd.DataFrame] | None,
    *,
    gates: Gates | None = None,
    writable: Callable[[pd.DataFrame], pd.Series] | None = None,
) -> DispatchPlan:
    """Apply DESIGN.md's dispatch rules to the marked invoices of one client.

    ``lookup`` takes a list of national ids and returns register rows (national_id, street,
    postcode, city); it is called once, in bulk. ``None`` means the client has no register
    lookup enabled. ``gates`` are the agreement's gates for the day (``inkasso.gates``);
    ``writable`` takes the invoices about to be sent (with their address) and returns, indexed
    like them, a reason for each one the agency's file cannot carry.
    """
    # 1. eligibility
    frame, holds = _eligible(invoices.copy())

    # 2. the legal and sanity gates
    if gates is not None:
        frame, gate_holds = apply_gates(frame, gates)
        holds.append(gate_holds)

    # 3. national id / organisation number
    bad_id = ~valid_ids(frame) if len(frame) else pd.Series(False, index=frame.index)
    holds.append(
        _hold(frame, bad_id, INVALID_ID, "national id or organisation number fails its check")
    )
    frame = frame[~bad_id]

    # 4. addresses
    frame, address_holds, invoice_updates, customer_updates = _resolve_addresses(
        frame, client, lookup
    )
    holds.append(address_holds)

    # 5. values the agency's file cannot carry hold only their own invoice
    if writable is not None and len(frame):
        problems = writable(frame)
        bad = frame.index.isin(problems.index)
        holds.append(_hold(frame, bad, UNWRITABLE, problems.reindex(frame.index).fillna("")))
        frame = frame[~bad]

    # 6. the client's minimum, per customer and currency, over what is still to be sent
    frame, below_holds = _above_minimum(frame, client)
    holds.append(below_holds)
    return _plan(frame, holds, invoice_updates, customer_updates)


def _eligible(frame: pd.DataFrame) -> tuple[pd.DataFrame, list[pd.DataFrame]]:
    """Rule 1: open, undisputed, not at collection, no earlier case, something to collect.
    Returns (the eligible invoices, the holds of the others)."""
    at_collection = (frame["status"] == "at_collection") | frame["open_case_id"].notna()
    # a case closed or rejected by the agency is not sent again by itself: a person decides
    earlier = ~at_collection & frame["earlier_case_id"].notna()
    at_collection |= earlier
    not_open = ~at_collection & (frame["status"] != "open")
    disputed = ~at_collection & ~not_open & frame["disputed"].astype(bool)
    nothing = ~at_collection & ~not_open & ~disputed & (frame["remaining_amount"] <= 0)
    holds = [
        _hold(
            frame,
            at_collection & ~earlier,
            ALREADY_AT_COLLECTION,
            "the invoice already has an open case",
        ),
        _hold(
            frame,
            earlier,
            EARLIER_CASE,
            lambda m: (
                "case "
                + frame.loc[m, "earlier_case_id"].astype("Int64").astype(str)
                + " of this invoice was closed or rejected by the agency; a second case is never opened automatically"
            ),
        ),
        _hold(frame, not_open, NOT_OPEN, lambda m: "status " + frame.loc[m, "status"].astype(str)),
        _hold(frame, disputed, DISPUTED, "the invoice is disputed"),
        _hold(frame, nothing, NOTHING_TO_COLLECT, "remaining amount is zero"),
    ]
    return frame[~(at_collection | not_open | disputed | nothing)], holds


def _above_minimum(
    frame: pd.DataFrame, client: ClientSettings
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rule 6: hold a customer's invoices whose total per currency is below the client's
    minimum. Returns (the invoices sent, the holds)."""
    totals = frame.groupby(["customer_id", "currency"])["remaining_amount"].transform("sum")
    below = totals < client.min_collection_amount
    holds = _hold(frame, below, BELOW_MINIMUM, _minimum_detail(frame, totals, below, client))
    return frame[~below], holds


def _minimum_detail(frame, totals, below, client: ClientSettings) -> pd.Series:
    """The held invoices' reason text, each amount in its own currency (rows not held: NaN)."""
    currencies = frame.loc[below, "currency"]
    pairs = list(zip(totals[below].astype("int64"), currencies, strict=True))
    # one text per customer total and currency, not per invoice: babel is slow per call
    minimum = {c: format_money(client.min_collection_amount, c) for c in set(currencies)}
    texts = {
        (t, c): f"customer total {format_money(int(t), c)} is below the minimum {minimum[c]}"
        for t, c in set(pairs)
    }
    text = [texts[pair] for pair in pairs]
    return pd.Series(text, index=currencies.index, dtype=object).reindex(frame.index)


def _plan(frame, holds, invoice_updates, customer_updates) -> DispatchPlan:
    """The plan: the invoices sent, all holds, and the write-backs of the invoices and
    customers actually sent."""
    sent_invoices = set(frame["invoice_id"])
    sent_customers = set(frame["customer_id"])
    non_empty = [h for h in holds if len(h)]
    hold_frame = (
        pd.concat(non_empty, ignore_index=True) if non_empty else pd.DataFrame(columns=HOLD_COLUMNS)
    )
    return DispatchPlan(
        cases=frame.reset_index(drop=True),
        holds=hold_frame[HOLD_COLUMNS].reset_index(drop=True),
        invoice_address_updates=invoice_updates[
            invoice_updates["invoice_id"].isin(sent_invoices)
        ].reset_index(drop=True),
        customer_address_updates=customer_updates[
            customer_updates["customer_id"].isin(sent_customers)
        ].reset_index(drop=True),
    )


def _resolve_addresses(frame, client, lookup):
    """The four address rules; returns (frame with address, holds, invoice and customer updates)."""
    frame = frame.copy()
    postal_ok = valid_address(frame, "postal_")
    use_register = lookup is not None
    frame["address_rule"] = _address_rule(frame, postal_ok, use_register)
    frame = _with_register(frame, lookup)
    _pick_addresses(frame, postal_ok)
    has_address = valid_address(frame, "")
    holds = _hold(
        frame,
        ~has_address,
        NO_ADDRESS,
        "no valid address on the invoice or customer"
        + (", and none in the person register" if use_register else "; register lookup is off"),
    )
    sent = frame[has_address]
    invoice_updates, customer_updates = _write_backs(sent)
    return (
        sent.drop(columns=["reg_street", "reg_postcode", "reg_city"]),
        holds,
        invoice_updates,
        customer_updates,
    )


def _address_rule(frame: pd.DataFrame, postal_ok: pd.Series, use_register: bool) -> np.ndarray:
    """Which address rule each invoice goes by (``none``: no address anywhere)."""
    manual_ok = frame["addr_changed_manually"].astype(bool) & valid_address(frame, "addr_")
    billing_ok = valid_address(frame, "billing_")
    from_register = frame["postal_source"].eq("register")
    return np.select(
        [
            manual_ok,
            billing_ok,
            use_register & from_register,
            postal_ok,
            pd.Series(use_register, index=frame.index),
        ],
        [RULE_MANUAL, RULE_BILLING, RULE_REGISTER_AGAIN, RULE_POSTAL, RULE_REGISTER_NEW],
        default="none",
    )


def _with_register(frame: pd.DataFrame, lookup) -> pd.DataFrame:
    """The register's address (``reg_`` columns) of each invoice that asks it, one bulk lookup."""
    is_org = frame["is_organisation"].astype(bool)
    # who is asked: rules 3 and 4, and the refresh of persons' postal addresses in rules 1 and 2
    refresh = frame["address_rule"].isin([RULE_MANUAL, RULE_BILLING]) & ~is_org
    ask = frame["address_rule"].isin([RULE_REGISTER_AGAIN, RULE_REGISTER_NEW]) | refresh
    register = pd.DataFrame(columns=["national_id", "reg_street", "reg_postcode", "reg_city"])
    if lookup is not None and ask.any():
        found = lookup(sorted(frame.loc[ask, "national_id"].unique().tolist()))
        register = found.rename(columns={f: f"reg_{f}" for f in ADDRESS_FIELDS})[
            ["national_id", "reg_street", "reg_postcode", "reg_city"]
        ].drop_duplicates("national_id")
    return frame.merge(register, on="national_id", how="left").set_index(frame.index)


def _pick_addresses(frame: pd.DataFrame, postal_ok: pd.Series) -> None:
    """Fill ``street``, ``postcode`` and ``city`` in place with the address each invoice is
    sent with (by its address rule)."""
    rule = frame["address_rule"].to_numpy()
    again = rule == RULE_REGISTER_AGAIN
    register_ok = valid_address(frame, "reg_").to_numpy()
    # rule 3: the register's answer; if it has none, the postal address it gave before
    prefixes = {
        "addr_": rule == RULE_MANUAL,
        "billing_": rule == RULE_BILLING,
        "postal_": (rule == RULE_POSTAL) | (again & ~register_ok & postal_ok.to_numpy()),
        "reg_": (rule == RULE_REGISTER_NEW) | (again & register_ok),
    }
    for field in ADDRESS_FIELDS:
        # whole columns picked at once (the rules are exclusive); no rule: no address (None)
        picked = np.select(
            list(prefixes.values()),
            [frame[f"{prefix}{field}"].to_numpy(dtype=object) for prefix in prefixes],
            default=None,
        )
        frame[field] = pd.Series(picked, index=frame.index, dtype=object)


def _write_backs(sent: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The address updates of the invoices and customers sent: (invoice, customer) updates."""
    # the invoice gets the address it was sent with (unless it already had it) ...
    invoice_updates = sent.loc[
        sent["address_rule"] != RULE_MANUAL, ["invoice_id", *ADDRESS_FIELDS]
    ].copy()
    # ... and the customer's postal address follows the register where the register answered
    from_reg = sent["address_rule"].isin([RULE_REGISTER_AGAIN, RULE_REGISTER_NEW]) | (
        sent["address_rule"].isin([RULE_MANUAL, RULE_BILLING])
        & ~sent["is_organisation"].astype(bool)
    )
    customer_updates = (
        sent.loc[
            from_reg & valid_address(sent, "reg_"),
            ["customer_id", "reg_street", "reg_postcode", "reg_city"],
        ]
        .drop_duplicates("customer_id")
        .rename(columns={f"reg_{f}": f for f in ADDRESS_FIELDS})
    )
    return invoice_updates, customer_updates
