"""Times that follow the commit order: a payment's ``booked_at`` and a case's ``opened_at``.

A direct payment booked while a case is open (``erp_payment.booked_at >= ink_case.opened_at``) is
reported to the agency as a correction; one booked before was already taken off the amount the
case was sent with (the invoice's remaining amount when the dispatch read it). Stamped with each
task's start time, two overlapping runs could disagree with what the dispatch read: a bank import
that started first but committed after the dispatch's read (the money was sent, the payment
never reported), or a dispatch that started first but read after the booking committed (the
payment taken off twice).

Both transactions hold the client's booking lock (`inkasso.locks.lock_books`), so one commits
before the other reads; inside it each stamp is its ``now`` unless that would put it on the
wrong side of what the other committed:

* a dispatch: ``opened_at`` = max(now, the client's latest ``booked_at`` + 1 µs), so every
  payment it could read counts as booked before;
* a bank import: ``booked_at`` = max(now, latest ``opened_at`` of a case on an invoice it pays),
  so the payment counts as booked after every case already sent.

Without overlapping runs (and in tests and the demo, which pass a simulated ``now``) both are
``now``. The ERP's own bookings take no lock and keep their own times (README, ERP contract).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection

from inkasso.sql import query

TICK = timedelta(microseconds=1)  # the finest step both databases store


def case_opened_at(conn: Connection, client_id: int, now: datetime) -> datetime:
    """``opened_at`` for the cases a dispatch of the client opens (under `lock_books`)."""
    latest = conn.execute(query("erp/select_latest_payment_booked"), {"client_id": client_id})
    return _not_before(now, latest.scalar(), TICK)


def payment_booked_at(conn: Connection, now: datetime) -> datetime:
    """``booked_at`` for the payments of the staged bank file (``ink_bank_payment_match``,
    under `lock_books`)."""
    latest = conn.execute(query("erp/select_latest_case_of_bank_match")).scalar()
    return _not_before(now, latest, timedelta(0))


def _not_before(now: datetime, latest, step: timedelta) -> datetime:
    """``now``, or ``latest + step`` when that is later (in ``now``'s time zone). SQLite gives
    a stored time back as text, without its zone (UTC) or with it."""
    if latest is None:
        return now
    if isinstance(latest, str):
        latest = datetime.fromisoformat(latest)
    floor = (latest if latest.tzinfo else latest.replace(tzinfo=UTC)) + step
    aware = now if now.tzinfo else now.replace(tzinfo=UTC)
    if floor <= aware:
        return now
    return floor.astimezone(now.tzinfo) if now.tzinfo else floor.replace(tzinfo=None)
