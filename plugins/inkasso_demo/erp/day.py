"""One day of the demo ERP's own activity: new invoices, payments, reminders, marking.

Deterministic from (seed, day) and the state of the database, and done once per day: a row in
``demo_erp_day`` records the day and what it did, so a second call for the same day changes
nothing and returns the first call's counts.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from sqlalchemy import (
    Column,
    Date,
    Engine,
    Integer,
    MetaData,
    Table,
    and_,
    bindparam,
    func,
    select,
    update,
)

from inkasso.db.schema import erp_client, erp_customer, erp_invoice, ink_agreement
from inkasso_demo.erp.clients import CLIENTS
from inkasso_demo.erp.invoices import invoice_row, marked_at, random_amount

# the demo's own bookkeeping, apart from the ERP's and the pipeline's tables
demo_metadata = MetaData()

demo_erp_day = Table(
    "demo_erp_day",
    demo_metadata,
    Column("day", Date, primary_key=True),
    Column("seed", Integer, nullable=False),
    Column("new_invoices", Integer, nullable=False),
    Column("payments", Integer, nullable=False),
    Column("paid_in_full", Integer, nullable=False),
    Column("reminders", Integer, nullable=False),
    Column("marked", Integer, nullable=False),
)

_COUNTS = ("new_invoices", "payments", "paid_in_full", "reminders", "marked")


def simulate_erp_day(engine: Engine, day: date, *, seed: int = 42) -> dict:
    """Play the ERP's activity of ``day`` once; return what it did.

    A few new invoices dated ``day``; payments on open invoices (remaining amount down, status
    ``paid`` at zero); the reminder routine raising reminder levels and marking overdue open
    invoices for collection at level 2 or more (where the agency runs the reminder service: at
    the agreement's ``reminder_level``), with ``marked_at`` during ``day`` (UTC).
    Invoices at collection are left alone: money paid on them is the bank import's business.
    Called again for the same day it changes nothing and returns the recorded counts with
    ``repeated=True``.
    """
    demo_metadata.create_all(engine)
    with engine.begin() as conn:
        done = (
            conn.execute(select(demo_erp_day).where(demo_erp_day.c.day == day)).mappings().first()
        )
        if done is not None:
            return {"day": day.isoformat(), **{k: done[k] for k in _COUNTS}, "repeated": True}
        rng = random.Random(f"{seed}:{day.isoformat()}")
        counts = {
            "new_invoices": _new_invoices(conn, rng, day),
            **_payments(conn, rng, day),
            **_reminder_routine(conn, rng, day),
        }
        conn.execute(demo_erp_day.insert(), [{"day": day, "seed": seed, **counts}])
    return {"day": day.isoformat(), **counts, "repeated": False}


def _new_invoices(conn, rng: random.Random, day: date) -> int:
    last_customer = conn.execute(select(func.max(erp_customer.c.customer_id))).scalar()
    if not last_customer:
        return 0
    wanted = rng.randint(3, 8) + last_customer // 1000
    picks = sorted({rng.randint(1, last_customer) for _ in range(wanted)})
    customers = conn.execute(
        select(erp_customer).where(erp_customer.c.customer_id.in_(picks)).order_by(erp_customer.c.customer_id)
    ).mappings().all()  # fmt: skip
    clients = {c.client_id: c for c in CLIENTS}
    known = {row.client_id for row in conn.execute(select(erp_client.c.client_id))}
    next_id = (conn.execute(select(func.max(erp_invoice.c.invoice_id))).scalar() or 0) + 1
    last_no = dict(
        conn.execute(
            select(erp_invoice.c.client_id, func.max(erp_invoice.c.invoice_no)).group_by(erp_invoice.c.client_id)
        ).all()
    )  # fmt: skip
    seq = {cid: int(no) - 10_000_000 for cid, no in last_no.items()}
    rows = []
    for customer in customers:
        client = clients.get(customer["client_id"])
        if client is None or client.client_id not in known:
            continue
        seq[client.client_id] = seq.get(client.client_id, 0) + 1
        rows.append(
            invoice_row(
                invoice_id=next_id + len(rows),
                client=client,
                customer_id=customer["customer_id"],
                customer_no=customer["customer_no"],
                seq=seq[client.client_id],
                invoice_date=day,
                due_date=day + timedelta(days=rng.choice((14, 30))),
                amount=random_amount(rng),
                address=(
                    customer["postal_street"],
                    customer["postal_postcode"],
                    customer["postal_city"],
                ),
            )
        )
    if rows:
        conn.execute(erp_invoice.insert(), rows)
    return len(rows)


def _payments(conn, rng: random.Random, day: date) -> dict[str, int]:
    open_invoices = conn.execute(
        select(erp_invoice.c.invoice_id, erp_invoice.c.remaining_amount)
        .where(
            erp_invoice.c.status == "open",
            erp_invoice.c.remaining_amount > 0,
            erp_invoice.c.invoice_date < day,
        )
        .order_by(erp_invoice.c.invoice_id)
    ).all()
    if not open_invoices:
        return {"payments": 0, "paid_in_full": 0}
    wanted = min(len(open_invoices), max(3, len(open_invoices) // 200))
    updates = []
    for invoice_id, remaining in sorted(rng.sample(open_invoices, wanted)):
        if rng.random() < 0.75 or remaining <= 100:
            paid = remaining
        else:
            paid = rng.randint(1, (remaining - 1) // 100) * 100
        left = remaining - paid
        updates.append(
            {"b_id": invoice_id, "b_left": left, "b_status": "paid" if left == 0 else "open"}
        )
    conn.execute(
        update(erp_invoice)
        .where(erp_invoice.c.invoice_id == bindparam("b_id"))
        .values(remaining_amount=bindparam("b_left"), status=bindparam("b_status")),
        updates,
    )
    return {"payments": len(updates), "paid_in_full": sum(u["b_left"] == 0 for u in updates)}


MARK_LEVEL = 2  # reminders the demo ERP sends before it marks an invoice for collection


def _mark_levels(conn) -> dict[int, int]:
    """Per client, the reminder level its invoices are marked at: the agreement's
    ``reminder_level`` where the agency runs the reminder service, else ``MARK_LEVEL``."""
    levels = {}
    for row in conn.execute(
        select(
            ink_agreement.c.client_id,
            ink_agreement.c.reminder_service,
            ink_agreement.c.reminder_level,
        ).where(ink_agreement.c.active.is_(True))
    ):
        if row.reminder_service and row.reminder_level is not None:
            levels[row.client_id] = int(row.reminder_level)
    return levels


def _reminder_routine(conn, rng: random.Random, day: date) -> dict[str, int]:
    overdue_open = and_(
        erp_invoice.c.status == "open",
        erp_invoice.c.due_date < day,
        erp_invoice.c.marked_for_collection.is_(False),
        erp_invoice.c.disputed.is_(False),
    )
    candidates = conn.execute(
        select(erp_invoice.c.invoice_id, erp_invoice.c.client_id, erp_invoice.c.reminder_count)
        .where(overdue_open)
        .order_by(erp_invoice.c.invoice_id)
    ).all()
    levels = _mark_levels(conn)

    def level(c) -> int:
        return levels.get(c.client_id, MARK_LEVEL)

    # where the agency runs the reminders, the ERP stops at the agreement's level and marks
    to_remind = [
        c for c in candidates if c.reminder_count < (level(c) if c.client_id in levels else 3)
    ]
    reminded = sorted(rng.sample(to_remind, min(len(to_remind), len(to_remind) // 30)))
    if reminded:
        conn.execute(
            update(erp_invoice)
            .where(erp_invoice.c.invoice_id == bindparam("b_id"))
            .values(reminder_count=bindparam("b_level")),
            [{"b_id": c.invoice_id, "b_level": c.reminder_count + 1} for c in reminded],
        )
    reminded_ids = {c.invoice_id for c in reminded}
    to_mark = [
        c for c in candidates if c.reminder_count >= level(c) and c.invoice_id not in reminded_ids
    ]
    marked = sorted(rng.sample(to_mark, min(len(to_mark), max(2, len(to_mark) // 100))))
    if marked:
        conn.execute(
            update(erp_invoice)
            .where(erp_invoice.c.invoice_id == bindparam("b_id"))
            .values(marked_for_collection=True, marked_at=bindparam("b_at")),
            [{"b_id": c.invoice_id, "b_at": marked_at(rng, day)} for c in marked],
        )
    return {"reminders": len(reminded), "marked": len(marked)}
