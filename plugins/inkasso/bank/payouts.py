"""Agency payouts found in bank files: logged, booked against the interim account, reconciled.

A payout is a payment whose payer account is an agreement's ``agency_bank_account``. It is not a
payment on an invoice: it is the agency handing over what it collected.

Booking: where the agreement has ``settle_on_closure`` on, each payout is booked bank (1920)
debit / the agreement's interim account (default 1684) credit, ``source_ref`` ``payout:<id>``, so
a rerun books nothing twice. (The closures then clear the interim account against the invoices.)

Reconciliation, per agreement and day: the payouts dated D are compared with the agency's
settlement of D, the sum of ``collected_amount`` of the agreement's cases closed on D (the closure
files' dates). Each payout of the day gets ``matched`` (equal), ``differs`` (both, unequal) or
``missing`` (no settlement of that day on file yet), with the settled sum and a detail text.
Settlement days older than ``PAYOUT_GRACE_DAYS`` without any payout are returned as missing
payouts. It recomputes from the tables every time: run it again after new closures arrive and a
``missing`` turns ``matched``.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Connection, and_, bindparam, func, insert, select, update

from inkasso.bank.record import account_key
from inkasso.db.schema import ink_agreement, ink_case, ink_payout
from inkasso.sql import query

BANK_ACCOUNT = "1920"
PAYOUT_GRACE_DAYS = 2
RECONCILE_DAYS = 30


def agency_accounts(conn: Connection, client_id: int) -> dict[str, str]:
    """The client's agreements (active or not: old payouts still arrive) -> agency bank account."""
    rows = conn.execute(
        select(ink_agreement.c.agreement_id, ink_agreement.c.agency_bank_account).where(
            ink_agreement.c.client_id == client_id
        )
    ).all()
    return {agreement: account for agreement, account in rows}


def _as_date(value) -> date:
    """A date from a text query (SQLite gives ISO text, PostgreSQL a date)."""
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def log_payouts(conn: Connection, client_id: int, bank_file: str, journal_date: date) -> dict:
    """Add the file's payouts to ``ink_payout`` and book them where the agreement says so.

    Returns the count and sum of payouts and how many journal lines were written.
    """
    accounts = {account_key(acc): a for a, acc in agency_accounts(conn, client_id).items()}
    rows = conn.execute(
        query("erp/select_bank_file_payouts"), {"bank_file": bank_file, "client_id": client_id}
    ).mappings()
    payouts = [
        {
            "agreement_id": accounts[account_key(r["payer_account"])],
            "payment_id": r["payment_id"],
            "amount": int(r["amount"]),
            "payment_date": _as_date(r["payment_date"]),
        }
        for r in rows
    ]
    if not payouts:
        return {"payouts": 0, "payout_amount": 0, "journal_lines": 0}
    conn.execute(insert(ink_payout), payouts)
    settings = {
        r.agreement_id: r
        for r in conn.execute(
            select(
                ink_agreement.c.agreement_id,
                ink_agreement.c.interim_account,
                ink_agreement.c.booking_mode,
                ink_agreement.c.agency,
            ).where(ink_agreement.c.client_id == client_id)
        )
    }
    lines = []
    for payout in payouts:
        agreement = settings[payout["agreement_id"]]
        if agreement.booking_mode != "settlement":
            continue
        amount, ref = payout["amount"], f"payout:{payout['payment_id']}"
        note = f"Payout {agreement.agency} ({payout['agreement_id']}) {payout['payment_date']}"
        common = {"client_id": client_id, "journal_date": journal_date, "text": note[:200]}
        lines += [
            common | {"account": BANK_ACCOUNT, "debit": amount, "credit": 0, "source_ref": ref},
            common
            | {
                "account": agreement.interim_account or "1684",
                "debit": 0,
                "credit": amount,
                "source_ref": ref,
            },
        ]
    written = conn.execute(query("erp/insert_journal_line"), lines).rowcount if lines else 0
    return {
        "payouts": len(payouts),
        "payout_amount": sum(p["amount"] for p in payouts),
        "journal_lines": max(int(written), 0) if lines else 0,
    }


def _settlements(conn: Connection, agreement_ids: list[str], since: date, until: date):
    stmt = (
        select(
            ink_case.c.agreement_id,
            ink_case.c.closed_date.label("day"),
            func.sum(ink_case.c.collected_amount).label("settled"),
            func.count().label("cases"),
        )
        .where(
            ink_case.c.agreement_id.in_(agreement_ids),
            ink_case.c.closed_date.between(since, until),
            ink_case.c.collected_amount != 0,
        )
        .group_by(ink_case.c.agreement_id, ink_case.c.closed_date)
    )
    return pd.DataFrame(
        conn.execute(stmt).all(), columns=["agreement_id", "day", "settled", "cases"]
    )


def _paid(conn: Connection, agreement_ids: list[str], since: date, until: date):
    stmt = (
        select(
            ink_payout.c.agreement_id,
            ink_payout.c.payment_date.label("day"),
            func.sum(ink_payout.c.amount).label("paid"),
            func.count().label("payouts"),
        )
        .where(
            ink_payout.c.agreement_id.in_(agreement_ids),
            ink_payout.c.payment_date.between(since, until),
        )
        .group_by(ink_payout.c.agreement_id, ink_payout.c.payment_date)
    )
    return pd.DataFrame(
        conn.execute(stmt).all(), columns=["agreement_id", "day", "paid", "payouts"]
    )


def _money(ore: int) -> str:
    sign = "-" if ore < 0 else ""
    return f"{sign}{abs(ore) // 100}.{abs(ore) % 100:02d}"


def reconcile_payouts(
    conn: Connection, agreement_ids: list[str], business_date: date, days: int = RECONCILE_DAYS
) -> dict:
    """Reconcile the payouts of the last ``days`` days up to ``business_date`` (see module doc).

    Returns counts per outcome and the list of settlement days still waiting for a payout.
    """
    since = business_date - timedelta(days=days)
    if not agreement_ids:
        return {"matched": 0, "differs": 0, "missing": 0, "missing_payouts": []}
    both = pd.merge(
        _paid(conn, agreement_ids, since, business_date),
        _settlements(conn, agreement_ids, since, business_date),
        on=["agreement_id", "day"],
        how="outer",
    )
    updates, outcome = [], {"matched": 0, "differs": 0, "missing": 0}
    missing_payouts = []
    for row in both.itertuples(index=False):
        paid = None if pd.isna(row.paid) else int(row.paid)
        settled = None if pd.isna(row.settled) else int(row.settled)
        if paid is None:
            if row.day < business_date - timedelta(days=PAYOUT_GRACE_DAYS):
                missing_payouts.append(
                    {
                        "agreement_id": row.agreement_id,
                        "day": row.day.isoformat(),
                        "settled": settled,
                    }
                )
            continue
        if settled is None:
            status, detail = "missing", f"no settlement (closures) of {row.day} on file"
        elif settled == paid:
            status = "matched"
            detail = f"paid {_money(paid)} = settled {_money(settled)} ({int(row.cases)} cases)"
        else:
            status = "differs"
            detail = (
                f"paid {_money(paid)}, settled {_money(settled)} ({int(row.cases)} cases): "
                f"difference {_money(paid - settled)}"
            )
        outcome[status] += int(row.payouts)
        updates.append(
            {"b_agreement": row.agreement_id, "b_day": row.day, "b_status": status,
             "b_settled": settled, "b_detail": detail}
        )  # fmt: skip
    if updates:
        conn.execute(
            update(ink_payout)
            .where(
                and_(
                    ink_payout.c.agreement_id == bindparam("b_agreement"),
                    ink_payout.c.payment_date == bindparam("b_day"),
                )
            )
            .values(
                reconciliation=bindparam("b_status"),
                settled_amount=bindparam("b_settled"),
                detail=bindparam("b_detail"),
            ),
            updates,
        )
    return outcome | {"missing_payouts": missing_payouts}
