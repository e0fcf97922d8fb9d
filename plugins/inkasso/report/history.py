"""What the agency's files of one day did to the cases, as of that day, for the report.

``ink_case`` holds a case's state now; a later file moves it on (a receipt registers a case a
later receipt rejects, a ``partly_paid`` closure is followed by ``paid``, the agency collects
more after closing). A report of an earlier day (a backfill, a rerun) must tell that day's
figures, so it reads each case's *last change event of the day's files* (``ink_case_event``,
the events of records that changed nothing left out): its kind is the state the day's file gave
the case, and a closure event's integer columns ``collected_amount`` and ``remaining_amount``
hold the totals the file said (``inbound.apply.CLOSURE_EVENTS`` writes them beside its text;
migration 0014 filled them for the events before, from that text).
"""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Select, func, select

from inkasso.db.schema import erp_invoice, ink_case, ink_case_event, ink_file_log
from inkasso.report.model import NO_CHANGE_EVENTS

# a closure event's kind is the file's status code; these leave the case open
STILL_OPEN = ("partly_paid",)
AFTER_CLOSURE = "collected_after_closure"


def day_changes(client_id: int, day: date, kind: str):
    """Per case, the last change event (``case_id``, ``kind``, and a closure's totals
    ``event_collected``, ``event_remaining``) of the client's incoming files of ``kind`` logged
    for ``day`` (a subquery)."""
    e, f = ink_case_event.c, ink_file_log.c
    files = select(f.file_id).where(
        f.client_id == client_id, f.business_date == day, f.direction == "in", f.kind == kind
    )
    last = (
        select(e.case_id, func.max(e.event_id).label("event_id"))
        .where(e.file_id.in_(files), e.kind.not_in(NO_CHANGE_EVENTS))
        .group_by(e.case_id)
        .subquery()
    )
    return (
        select(
            last.c.case_id,
            e.kind,
            e.collected_amount.label("event_collected"),
            e.remaining_amount.label("event_remaining"),
        )
        .join(ink_case_event, e.event_id == last.c.event_id)
        .subquery()
    )


def closures_of_day_query(client_id: int, day: date) -> Select:
    """One row per case a closure file of ``day`` changed: its day's event, its invoice, and its
    amounts now (used only when the event holds no totals)."""
    ev = day_changes(client_id, day, "closure")
    c, i = ink_case.c, erp_invoice.c
    return (
        select(
            c.agreement_id,
            c.case_id,
            c.sent_amount,
            c.collected_amount,
            c.closed_remaining_amount,
            c.is_open,
            ev.c.kind,
            ev.c.event_collected,
            ev.c.event_remaining,
            i.invoice_no,
            i.status.label("invoice_status"),
            i.remaining_amount.label("invoice_remaining"),
        )
        .join(ev, ev.c.case_id == c.case_id)
        .outerjoin(erp_invoice, i.invoice_id == c.invoice_id)
        .order_by(c.agreement_id, c.case_id)
    )


def closure_of_day(row) -> dict:
    """A case's closure as the day's file left it: ``status`` (the file's code, or
    ``collected_after_closure``), ``collected`` and ``remaining`` (øre) from the event's
    integer columns (an amount the file left blank: 0), ``ended`` (the closure ended the case),
    and ``as_recorded`` (False: the event holds no totals, so the amounts are the case's now)."""
    recorded = row["event_collected"] is not None or row["event_remaining"] is not None
    if recorded:
        collected, remaining = row["event_collected"], row["event_remaining"]
    else:
        collected, remaining = row["collected_amount"], row["closed_remaining_amount"]
    return {
        "agreement_id": row["agreement_id"],
        "case_id": row["case_id"],
        "invoice_no": row["invoice_no"],
        "status": row["kind"],
        "sent": int(row["sent_amount"]),
        "collected": int(collected or 0),
        "remaining": int(remaining or 0),
        "ended": row["kind"] not in STILL_OPEN,
        "as_recorded": recorded,
    }


def closures_of_day(conn: Connection, client_id: int, day: date) -> list[tuple[dict, dict]]:
    """Each case a closure file of ``day`` changed: (the closure as the day left it, the row)."""
    rows = conn.execute(closures_of_day_query(client_id, day)).mappings().all()
    return [(closure_of_day(r), r) for r in rows]
