"""The books of each case: every øre from the new-case file to the ledger, set-based.

For a case (``ink_case``) and its invoice (``erp_invoice``):

* ``sent``: the amount the new-case file claimed (the invoice's remaining amount then);
* ``collected``: what the agency says it collected (its closure records, cumulative);
* ``collected_booked``: what reached the invoice from the agency (``erp_payment`` method
  ``collection``: the KID payout in bank mode, the settlement booking in settlement mode);
* ``direct``: what the debtor paid the creditor directly after the case was sent;
* ``credited``, ``recalled``, ``written_off``: the ERP's credit notes, recalls (credit loss,
  recall from collection) and write-offs registered after the case was sent;
* ``open`` = sent - collected - direct - credited - recalled - written_off: what the debtor
  still owes; below zero it is money to pay back (``refund_due``);
* ``in_transit`` = collected - collected_booked: collected by the agency, not yet in the ledger
  (bank mode, until the payout arrives);
* ``expected_remaining`` = max(open + in_transit, 0): what the ERP's remaining amount must show;
* ``sent_again``: a later case of the invoice, not rejected, took over what this one (not
  rejected either) left open.

So for every case: sent = collected + direct + credited + recalled + written_off + open, every
term read from its own table. A case's money is what moved from its sending until a later case
of the invoice (not rejected) was sent: from then on that case counts it, so no payment is in
the books of two cases, and the earlier case's ``open`` is what it handed on.
"""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, and_, case, func, select, true

from inkasso.db.schema import (
    erp_invoice,
    erp_invoice_adjustment,
    erp_payment,
    ink_after_closure,
    ink_agreement,
    ink_case,
)

ENDED = ("paid", "closed", "recalled", "uncollectible")
ADJUSTMENT_TERMS = {"credit_note": "credited", "recall": "recalled", "write_off": "written_off"}
TERMS = ("collected", "direct", "credited", "recalled", "written_off")


def _counted_later(k, moved_after) -> object:
    """True where a later case of the invoice, not rejected, counts the money instead:
    ``moved_after(later)`` says the money moved once that case had been sent."""
    later = ink_case.alias("later")
    return (
        select(later.c.case_id)
        .where(
            later.c.invoice_id == k.invoice_id,
            later.c.case_id > k.case_id,
            later.c.status != "rejected",
            moved_after(later.c),
        )
        .exists()
    )


def _payments(scope, *, latest_only: bool = False):
    """Per case: what reached the invoice from the agency, and what the debtor paid directly,
    since the case was sent (``latest_only``: the scope's cases are their invoices' latest,
    so no later case can count the money instead, and that test is left out)."""
    k, p = ink_case.c, erp_payment.c
    since_sent = [scope, p.booked_at >= k.opened_at]
    if not latest_only:
        since_sent.append(~_counted_later(k, lambda later: p.booked_at >= later.opened_at))
    return (
        select(
            k.case_id,
            func.sum(case((p.method == "collection", p.amount), else_=0)).label("collected_booked"),
            func.sum(case((p.kind == "direct", p.amount), else_=0)).label("direct"),
        )
        .select_from(ink_case.join(erp_payment, p.invoice_id == k.invoice_id))
        .where(*since_sent)
        .group_by(k.case_id)
        .subquery("pay")
    )


def _adjustments(scope, *, latest_only: bool = False):
    """Per case: the credit notes, recalls and write-offs registered since it was sent
    (``latest_only`` as for ``_payments``)."""
    k, a = ink_case.c, erp_invoice_adjustment.c

    def after_sent(sent):
        """Registered after the case was sent (an old adjustment without a time: dated after)."""
        return func.coalesce(a.booked_at >= sent.opened_at, a.adjustment_date >= sent.business_date)

    sums = [
        func.sum(case((a.kind == kind, func.abs(a.amount)), else_=0)).label(term)
        for kind, term in ADJUSTMENT_TERMS.items()
    ]
    return (
        select(k.case_id, *sums)
        .select_from(ink_case.join(erp_invoice_adjustment, a.invoice_id == k.invoice_id))
        .where(scope, after_sent(k), *([] if latest_only else [~_counted_later(k, after_sent)]))
        .group_by(k.case_id)
        .subquery("adj")
    )


def case_books(
    conn: Connection,
    *,
    agreement_ids: list[str] | None = None,
    case_ids: list[int] | None = None,
) -> pd.DataFrame:
    """The books of the cases (all, or of some agreements or cases) as one frame (module doc)."""
    k = ink_case.c
    scope = and_(
        k.agreement_id.in_(agreement_ids) if agreement_ids is not None else true(),
        k.case_id.in_(case_ids) if case_ids is not None else true(),
    )
    pay, adj = _payments(scope), _adjustments(scope)
    k2 = ink_case.alias("k2")
    latest = select(func.max(k2.c.case_id)).where(k2.c.invoice_id == k.invoice_id).scalar_subquery()
    stmt = (
        select(
            k.case_id,
            k.agreement_id,
            ink_agreement.c.client_id,
            ink_agreement.c.booking_mode,
            k.invoice_id,
            erp_invoice.c.invoice_no,
            k.status,
            k.is_open,
            k.currency,
            k.business_date,
            k.closed_date,
            k.sent_amount.label("sent"),
            k.collected_amount.label("collected"),
            k.closed_remaining_amount.label("agency_remaining"),
            func.coalesce(pay.c.collected_booked, 0).label("collected_booked"),
            func.coalesce(pay.c.direct, 0).label("direct"),
            *(func.coalesce(adj.c[t], 0).label(t) for t in ADJUSTMENT_TERMS.values()),
            erp_invoice.c.remaining_amount.label("erp_remaining"),
            erp_invoice.c.status.label("invoice_status"),
            (latest == k.case_id).label("is_latest"),
            and_(k.status != "rejected", _counted_later(k, lambda later: true())).label(
                "sent_again"
            ),
        )
        .select_from(
            ink_case.join(erp_invoice, erp_invoice.c.invoice_id == k.invoice_id)
            .join(ink_agreement, ink_agreement.c.agreement_id == k.agreement_id)
            .outerjoin(pay, pay.c.case_id == k.case_id)
            .outerjoin(adj, adj.c.case_id == k.case_id)
        )
        .where(scope)
        .order_by(k.case_id)
    )
    rows = conn.execute(stmt).mappings().all()
    frame = pd.DataFrame(rows, columns=list(stmt.selected_columns.keys()))
    money = ["sent", "collected", "collected_booked", "direct", *ADJUSTMENT_TERMS.values()]
    for col in [*money, "erp_remaining"]:
        frame[col] = frame[col].astype("int64")
    frame["agency_remaining"] = frame["agency_remaining"].astype("Int64")
    frame["is_open"] = frame["is_open"].astype(bool)
    frame["is_latest"] = frame["is_latest"].astype(bool)
    frame["sent_again"] = frame["sent_again"].astype(bool)
    return with_derived(frame)


def with_derived(frame: pd.DataFrame) -> pd.DataFrame:
    """Add ``open``, ``refund_due``, ``in_transit`` and ``expected_remaining`` (module doc)."""
    out = frame.copy()
    reductions = sum(out[t] for t in TERMS)
    out["open"] = (out["sent"] - reductions).astype("int64")
    out["refund_due"] = (-out["open"]).clip(lower=0).astype("int64")
    out["in_transit"] = (out["collected"] - out["collected_booked"]).astype("int64")
    out["expected_remaining"] = (out["open"] + out["in_transit"]).clip(lower=0).astype("int64")
    return out


def expected_invoice_status(row) -> str:
    """The invoice status the ERP contract names for a case's state (README, ERP contract)."""
    if row["status"] == "rejected":
        return "open"
    if row["is_open"]:
        return "at_collection"
    if row["erp_remaining"] <= 0:
        return "credited" if row["status"] == "recalled" else "paid"
    # still owed, and a payout on its way: the agency collected more than reached the invoice
    # (also when the debtor paid the creditor the rest meanwhile; otherwise, e.g. after a bank
    # reversal, a person decides)
    if row["in_transit"] > 0:
        return "payout_pending"
    return "collection_ended"


def _latest(k):
    """The case is its invoice's latest (a later case of the invoice counts the same money)."""
    k2 = ink_case.alias("later")
    return (
        ~select(k2.c.case_id)
        .where(k2.c.invoice_id == k.invoice_id, k2.c.case_id > k.case_id)
        .exists()
    )


def refunds_not_reported(conn: Connection, agreement_ids: list[str]) -> pd.DataFrame:
    """The latest cases of the agreements whose money went beyond their claim (``refund_due``,
    module doc) by more than their after-closure events (``ink_after_closure``) have counted
    as refund: money that went beyond the claim while the case was open (a direct payment on
    top of the agency's collection, a credit note on a claim already paid) and that no
    after-closure verdict shows. One statement; only those cases come back. Columns:
    agreement_id, case_id, invoice_no, status, is_open, currency, refund_due, to_refund (øre)."""
    k, e = ink_case.c, ink_after_closure.c
    scope = and_(k.agreement_id.in_(agreement_ids), _latest(k))
    pay, adj = _payments(scope, latest_only=True), _adjustments(scope, latest_only=True)
    reported = (
        select(e.case_id, func.sum(e.refund_amount).label("amount"))
        .where(e.agreement_id.in_(agreement_ids))
        .group_by(e.case_id)
        .subquery("reported")
    )
    terms = [k.collected_amount, func.coalesce(pay.c.direct, 0)]
    terms += [func.coalesce(adj.c[t], 0) for t in ADJUSTMENT_TERMS.values()]
    refund = sum(terms[1:], terms[0]) - k.sent_amount
    left = refund - func.coalesce(reported.c.amount, 0)
    stmt = (
        select(k.agreement_id, k.case_id, erp_invoice.c.invoice_no, k.status, k.is_open,
               k.currency, refund.label("refund_due"), left.label("to_refund"))
        .select_from(
            ink_case.join(erp_invoice, erp_invoice.c.invoice_id == k.invoice_id)
            .outerjoin(pay, pay.c.case_id == k.case_id)
            .outerjoin(adj, adj.c.case_id == k.case_id)
            .outerjoin(reported, reported.c.case_id == k.case_id)
        )
        .where(scope, left > 0)
        .order_by(k.agreement_id, k.case_id)
    )  # fmt: skip
    frame = pd.DataFrame(conn.execute(stmt).all(), columns=list(stmt.selected_columns.keys()))
    for col in ("refund_due", "to_refund"):
        frame[col] = frame[col].astype("int64")
    frame["is_open"] = frame["is_open"].astype(bool)
    return frame


def _never_sent():
    """Invoices no case was ever opened for (their money is the ERP's, no agency's)."""
    return (
        ~select(ink_case.c.case_id)
        .where(ink_case.c.invoice_id == erp_invoice.c.invoice_id)
        .exists()
    )


def paid_beyond_invoice(conn: Connection) -> pd.DataFrame:
    """Invoices never sent to collection that received more than they asked for: their
    original amount, less credit notes / recalls / write-offs, less direct payments below zero
    (an invoice 'paid' or 'credited' paid again by its KID). Columns: invoice_id, invoice_no,
    currency, refund_due (øre). Two grouped queries, whatever the invoice's status."""
    p, a, i = erp_payment.c, erp_invoice_adjustment.c, erp_invoice.c
    paid = (
        select(p.invoice_id, func.sum(p.amount).label("paid"))
        .where((p.kind == "direct") | (p.method == "collection"), p.invoice_id.is_not(None))
        .group_by(p.invoice_id)
        .subquery("paid")
    )
    adjusted = (
        select(a.invoice_id, func.sum(func.abs(a.amount)).label("adjusted"))
        .where(a.kind.in_(list(ADJUSTMENT_TERMS)))
        .group_by(a.invoice_id)
        .subquery("adjusted")
    )
    beyond = paid.c.paid + func.coalesce(adjusted.c.adjusted, 0) - i.original_amount
    stmt = (
        select(i.invoice_id, i.invoice_no, i.currency, beyond.label("refund_due"))
        .select_from(
            erp_invoice.join(paid, paid.c.invoice_id == i.invoice_id).outerjoin(
                adjusted, adjusted.c.invoice_id == i.invoice_id
            )
        )
        .where(_never_sent(), beyond > 0)
        .order_by(i.invoice_id)
    )
    rows = conn.execute(stmt).mappings().all()
    frame = pd.DataFrame(rows, columns=["invoice_id", "invoice_no", "currency", "refund_due"])
    frame["refund_due"] = frame["refund_due"].astype("int64")
    return frame
