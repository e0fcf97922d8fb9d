"""Money that moves after the agency closed a case: detected, classified, recorded once.

Once a case has ended the agency is no longer told (its correction file is for open cases), so
a person must be: a direct payment on an invoice the agency already collected is an
over-payment (the debtor paid twice: a refund to handle); a credit note on a settled invoice is a
refund due; on an invoice whose collection ended unpaid it lowers what a person must decide on.
A reversal (a negative payment) of money counted as a refund takes that refund back
(``refund_cancelled``, a negative refund amount), so that what the events of a case counted as
refund is always what its books say is due, and a later over-payment is a refund again; a
reversal that takes back more than a refund makes money owed again (``owed_again``, with what
it took back of a refund as its negative refund amount: the collection has ended, a person
decides).
Each ERP event is recorded once in ``ink_after_closure`` (unique on its source) with its verdict
and the part of it to pay back, and the day's mail lists it.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Connection, func, insert, select

from inkasso.db.schema import ink_after_closure
from inkasso.money.amounts import plain_date
from inkasso.money.books import case_books
from inkasso.sql import query

log = logging.getLogger(__name__)
EVENT_COLUMNS = ["case_id", "invoice_id", "source", "source_id", "kind", "amount", "event_date"]


def _refund_parts(events: pd.DataFrame, change: int) -> pd.Series:
    """Spread a change of a case's refund over its new events, the latest first, each at most
    its amount: a new refund over the events that add money (payments, credit notes), a refund
    taken back (``change`` below zero) over the reversals, as negative parts."""
    parts = pd.Series(0, index=events.index, dtype="int64")
    sign = 1 if change > 0 else -1
    left = abs(change)
    for idx in reversed(events.index):
        if left <= 0:
            break
        take = max(min(sign * int(events.at[idx, "amount"]), left), 0)
        parts[idx], left = sign * take, left - take
    return parts


def classify(events: pd.DataFrame, books: pd.DataFrame, refunded: dict[int, int]) -> pd.DataFrame:
    """Verdict and refund amount per new event, from each case's books now (pure function).

    ``refunded`` is what earlier after-closure events of each case already counted as refund
    (net of refunds taken back).
    """
    out = events.copy()
    out["refund_amount"] = 0
    refund_due = dict(zip(books["case_id"], books["refund_due"], strict=True))
    for case_id, group in out.groupby("case_id", sort=False):
        change = int(refund_due.get(case_id, 0)) - refunded.get(int(case_id), 0)
        out.loc[group.index, "refund_amount"] = _refund_parts(group, change)
    is_payment = out["kind"] == "direct_payment"
    refund = out["refund_amount"] > 0
    out["verdict"] = "reduces_open"
    out.loc[refund & is_payment, "verdict"] = "overpayment"
    out.loc[refund & ~is_payment, "verdict"] = "refund_due"
    out.loc[out["refund_amount"] < 0, "verdict"] = "refund_cancelled"
    # a reversal that took back more than a refund makes money owed again on an ended case
    # (what it took back of a refund is still its negative refund amount)
    owed = (out["amount"] < 0) & (out["refund_amount"] > out["amount"])
    out.loc[owed, "verdict"] = "owed_again"
    return out


def detect_after_closure(
    conn: Connection, agreement_id: str, client_id: int, business_date: date, *, now: datetime
) -> dict:
    """Record the agreement's new after-closure events dated up to ``business_date``.

    Runs in the caller's transaction; returns counts and amounts per verdict for the summary.
    First the client's invoices whose case ended get the status their money now calls for (a
    credit note the ERP registered since may have settled one).
    """
    business_date = plain_date(business_date)
    conn.execute(query("erp/update_ended_invoice_status"), {"client_id": client_id, "no": False})
    rows = conn.execute(
        query("erp/select_after_closure_events"),
        {"agreement_id": agreement_id, "no": False, "through": business_date},
    ).all()
    events = pd.DataFrame(rows, columns=EVENT_COLUMNS)
    if events.empty:
        return {"after_closure": 0}
    events["amount"] = events["amount"].astype("int64")
    case_ids = sorted({int(c) for c in events["case_id"]})
    books = case_books(conn, case_ids=case_ids)
    e = ink_after_closure.c
    refunded = dict(
        conn.execute(
            select(e.case_id, func.sum(e.refund_amount))
            .where(e.case_id.in_(case_ids))
            .group_by(e.case_id)
        ).all()
    )
    classified = classify(events, books, {int(k): int(v) for k, v in refunded.items()})
    conn.execute(
        insert(ink_after_closure),
        [
            {
                "case_id": int(r.case_id),
                "agreement_id": agreement_id,
                "invoice_id": int(r.invoice_id),
                "source": r.source,
                "source_id": int(r.source_id),
                "kind": r.kind,
                "amount": int(r.amount),
                "event_date": plain_date(r.event_date),
                "verdict": r.verdict,
                "refund_amount": int(r.refund_amount),
                "business_date": business_date,
                "created_at": now,
            }
            for r in classified.itertuples(index=False)
        ],
    )
    counts = classified["verdict"].value_counts().sort_index()
    log.info("%s: %s events after closure: %s", agreement_id, len(classified), dict(counts))
    return {
        "after_closure": len(classified),
        "verdicts": {str(k): int(v) for k, v in counts.items()},
        "refund_amount": int(classified["refund_amount"].sum()),
    }
