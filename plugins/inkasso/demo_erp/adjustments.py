"""The demo ERP's credit notes and recalls on invoices at collection (what corrections report).

Deterministic from (seed, day); a day already played is not played again.
"""

from __future__ import annotations

import random
from datetime import date

from sqlalchemy import Engine, func, insert, select, update

from inkasso.db.schema import erp_invoice, erp_invoice_adjustment

CREDIT_NOTES_PER_DAY = 2
RECALLS_PER_DAY = 1


def simulate_collection_adjustments(engine: Engine, day: date, *, seed: int = 42) -> dict:
    """A few credit notes (part of the balance) and recalls (credit loss, "recall from
    collection": the whole balance) on invoices at collection, dated ``day``; the invoice's
    remaining amount goes down by the same amount. Returns the counts."""
    with engine.begin() as conn:
        done = conn.execute(
            select(func.count()).where(erp_invoice_adjustment.c.adjustment_date == day)
        ).scalar()
        if done:
            return {"credit_notes": 0, "recalls": 0, "repeated": True}
        at_collection = conn.execute(
            select(erp_invoice.c.invoice_id, erp_invoice.c.remaining_amount)
            .where(erp_invoice.c.status == "at_collection", erp_invoice.c.remaining_amount > 0)
            .order_by(erp_invoice.c.invoice_id)
        ).all()
        already = set(conn.execute(select(erp_invoice_adjustment.c.invoice_id)).scalars())
        candidates = [row for row in at_collection if row.invoice_id not in already]
        rng = random.Random(f"{seed}:adjustments:{day.isoformat()}")
        picked = rng.sample(
            candidates, min(len(candidates), CREDIT_NOTES_PER_DAY + RECALLS_PER_DAY)
        )
        rows = []
        for n, row in enumerate(picked):
            if n < CREDIT_NOTES_PER_DAY:
                amount = max(1, row.remaining_amount * rng.randint(10, 60) // 100)
                rows.append((row.invoice_id, "credit_note", amount, "credit note: price reduction"))
            else:
                rows.append(
                    (
                        row.invoice_id,
                        "recall",
                        row.remaining_amount,
                        "credit loss, recall from collection",
                    )
                )
        for invoice_id, kind, amount, text in rows:
            conn.execute(
                insert(erp_invoice_adjustment).values(
                    invoice_id=invoice_id, kind=kind, amount=amount, adjustment_date=day, text=text
                )
            )
            conn.execute(
                update(erp_invoice)
                .where(erp_invoice.c.invoice_id == invoice_id)
                .values(remaining_amount=erp_invoice.c.remaining_amount - amount)
            )
    kinds = [kind for _, kind, _, _ in rows]
    return {
        "credit_notes": kinds.count("credit_note"),
        "recalls": kinds.count("recall"),
        "repeated": False,
    }
