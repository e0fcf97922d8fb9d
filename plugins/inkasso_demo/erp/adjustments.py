"""The demo ERP's credit notes and recalls (what corrections report, and what happens after).

Deterministic from (seed, day); a day already played is not played again. Every adjustment has
``booked_at`` (when the ERP registered it), so a back-dated one is still reported.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, case, func, insert, select, update

from inkasso.db.schema import erp_invoice, erp_invoice_adjustment, ink_case

CREDIT_NOTES_PER_DAY = 2
RECALLS_PER_DAY = 1
BACK_DATED_DAYS = 5  # a credit note typed in late, dated before the case was sent
ENDED = ("paid", "collection_ended", "payout_pending")


def _pick(conn, rng, statuses, k, exclude) -> list:
    rows = conn.execute(
        select(erp_invoice.c.invoice_id, erp_invoice.c.remaining_amount, erp_invoice.c.status)
        .where(erp_invoice.c.status.in_(statuses))
        .where(erp_invoice.c.invoice_id.in_(select(ink_case.c.invoice_id)))
        .order_by(erp_invoice.c.invoice_id)
    ).all()
    candidates = [r for r in rows if r.invoice_id not in exclude]
    return rng.sample(candidates, min(len(candidates), k))


def _sent_day(conn, invoice_id: int) -> date:
    return conn.execute(
        select(func.max(ink_case.c.business_date)).where(ink_case.c.invoice_id == invoice_id)
    ).scalar()


def _at_collection(conn, rng, day: date, already: set) -> list[tuple]:
    """The day's credit notes (one perhaps back-dated) and recall on invoices at collection."""
    open_ones = [
        r for r in _pick(conn, rng, ("at_collection",), 40, already) if r.remaining_amount > 0
    ][: CREDIT_NOTES_PER_DAY + RECALLS_PER_DAY]
    rows = []
    for n, row in enumerate(open_ones):
        if n < CREDIT_NOTES_PER_DAY:
            amount = max(1, row.remaining_amount * rng.randint(10, 60) // 100)
            dated = day
            if n == 0 and rng.random() < 0.5:
                dated = _sent_day(conn, row.invoice_id) - timedelta(days=BACK_DATED_DAYS)
            rows.append((row.invoice_id, "credit_note", amount, dated, "price reduction"))
        else:
            rows.append(
                (row.invoice_id, "recall", row.remaining_amount, day, "credit loss, recall")
            )
    return rows


def _book(conn, rows: list[tuple]) -> None:
    """Register each adjustment and lower its invoice's remaining amount, never below zero."""
    now = datetime.now(UTC)
    for invoice_id, kind, amount, dated, text in rows:
        conn.execute(
            insert(erp_invoice_adjustment).values(
                invoice_id=invoice_id,
                kind=kind,
                amount=amount,
                adjustment_date=dated,
                text=text,
                booked_at=now,
            )
        )
        remaining = erp_invoice.c.remaining_amount
        conn.execute(  # the ERP never takes an invoice below zero
            update(erp_invoice)
            .where(erp_invoice.c.invoice_id == invoice_id)
            .values(remaining_amount=case((remaining > amount, remaining - amount), else_=0))
        )


def simulate_collection_adjustments(engine: Engine, day: date, *, seed: int = 42) -> dict:
    """Credit notes and recalls of ``day`` (see module doc); returns the counts.

    On invoices at collection: a few credit notes (part of the balance), one recall (credit loss,
    "recall from collection": the whole balance), now and then a credit note back-dated to before
    the case was sent. On invoices whose case has ended: now and then a credit note (a refund due
    on a settled invoice, or less for a person to decide on). The ERP lowers the remaining amount
    by the same amount, never below zero.
    """
    with engine.begin() as conn:
        done = conn.execute(
            select(func.count()).where(erp_invoice_adjustment.c.adjustment_date == day)
        ).scalar()
        if done:
            return {"credit_notes": 0, "recalls": 0, "after_closure": 0, "repeated": True}
        already = set(conn.execute(select(erp_invoice_adjustment.c.invoice_id)).scalars())
        rng = random.Random(f"{seed}:adjustments:{day.isoformat()}")
        rows = _at_collection(conn, rng, day, already)
        ended = _pick(conn, rng, ENDED, 1 if rng.random() < 0.6 else 0, already)
        for row in ended:
            amount = rng.randint(100, 500) * 100
            rows.append((row.invoice_id, "credit_note", amount, day, "credit note after closure"))
        _book(conn, rows)
    kinds = [kind for _, kind, _, _, _ in rows]
    return {
        "credit_notes": kinds.count("credit_note") - len(ended),
        "recalls": kinds.count("recall"),
        "back_dated": sum(d < day for _, _, _, d, _ in rows),
        "after_closure": len(ended),
        "repeated": False,
    }
