"""The report's money sections: what happened after closures, what ended unpaid, what the
agency still owes, and each interim account. Read-only, a few grouped queries per client."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, case, func, select

from inkasso.bank.payouts import missing_payouts
from inkasso.db.schema import (
    erp_invoice,
    erp_invoice_adjustment,
    erp_journal_line,
    erp_payment,
    ink_after_closure,
    ink_agreement,
    ink_case,
)
from inkasso.money.books import refunds_not_reported
from inkasso.report.history import closures_of_day

VERDICTS = {
    "overpayment": "paid twice (agency and creditor): refund to handle",
    "refund_due": "credit on a settled invoice: refund due",
    "reduces_open": "lowers what is still owed",
    "refund_cancelled": "reversed by the bank: no longer to refund",
    "owed_again": "reversed by the bank: owed again on an ended case: a person decides",
}


def after_closure(conn: Connection, agreement_ids: list[str], day: date) -> list[dict]:
    """Events recorded on day D on cases that had already ended, with invoice and verdict."""
    e = ink_after_closure.c
    rows = conn.execute(
        select(
            e.agreement_id,
            erp_invoice.c.invoice_no,
            e.case_id,
            e.kind,
            e.amount,
            e.event_date,
            e.verdict,
            e.refund_amount,
        )
        .join(erp_invoice, erp_invoice.c.invoice_id == e.invoice_id)
        .where(e.agreement_id.in_(agreement_ids), e.business_date == day)
        .order_by(e.agreement_id, e.case_id, e.event_id)
    ).mappings()
    return [dict(r) | {"label": VERDICTS.get(r["verdict"], r["verdict"])} for r in rows]


BEYOND_INVOICE = {
    "overpayment": "paid beyond the invoice (never sent to collection): refund to handle",
    "refund_cancelled": "reversed by the bank: no longer to refund",
}


def _day_payments(client_id: int, names):
    """Per invoice never sent to collection, the direct payments of the bank files ``names``
    (their ``erp_payment.bank_file`` values): their sum and the first and last time they were
    booked (a subquery)."""
    p = erp_payment.c
    sent = select(ink_case.c.case_id).where(ink_case.c.invoice_id == p.invoice_id).exists()
    return (
        select(
            p.invoice_id,
            func.sum(p.amount).label("amount"),
            func.min(p.booked_at).label("first"),
            func.max(p.booked_at).label("last"),
        )
        .where(p.client_id == client_id, p.kind == "direct", p.bank_file.in_(names), ~sent)
        .group_by(p.invoice_id)
        .subquery("d")
    )


def beyond_invoice(conn: Connection, client_id: int, day: date, names) -> list[dict]:
    """Money the bank files of day D (``names``: their ``erp_payment.bank_file`` values) paid
    on invoices never sent to collection beyond what they asked for (an invoice 'paid' or
    'credited' paid again), or took back from such an over-payment (a reversal): per invoice
    the day's amount and the change of its refund, from its original amount, its credit notes /
    recalls / write-offs and the payments booked before the day's (so a backfilled day shows
    its own). One statement; only the invoices whose refund changed come back (most of a bank
    file pays invoices exactly)."""
    d = _day_payments(client_id, names)
    p, a, i = erp_payment.alias("p"), erp_invoice_adjustment.c, erp_invoice.c
    before = (
        select(d.c.invoice_id, func.sum(p.c.amount).label("amount"))
        .join(p, p.c.invoice_id == d.c.invoice_id)
        .where((p.c.kind == "direct") | (p.c.method == "collection"), p.c.booked_at < d.c.first)
        .group_by(d.c.invoice_id)
        .subquery("before")
    )
    adjusted = (
        select(d.c.invoice_id, func.sum(func.abs(a.amount)).label("amount"))
        .join(erp_invoice_adjustment, a.invoice_id == d.c.invoice_id)
        .where(
            a.kind.in_(["credit_note", "recall", "write_off"]),
            func.coalesce(a.booked_at <= d.c.last, a.adjustment_date <= day),
        )
        .group_by(d.c.invoice_id)
        .subquery("adjusted")
    )
    # beyond the claim before the day's payments, and after them: the refund's change
    base = func.coalesce(before.c.amount, 0) + func.coalesce(adjusted.c.amount, 0)
    after = base + d.c.amount - i.original_amount
    prior = base - i.original_amount
    change = case((after > 0, after), else_=0) - case((prior > 0, prior), else_=0)
    rows = conn.execute(
        select(d.c.amount, i.invoice_no, change.label("change"))
        .join(erp_invoice, i.invoice_id == d.c.invoice_id)
        .outerjoin(before, before.c.invoice_id == d.c.invoice_id)
        .outerjoin(adjusted, adjusted.c.invoice_id == d.c.invoice_id)
        .where(change != 0)
        .order_by(i.invoice_no)
    ).mappings()
    out = []
    for r in rows:
        change = int(r["change"])
        verdict = "overpayment" if change > 0 else "refund_cancelled"
        out.append(
            {"invoice_no": r["invoice_no"], "kind": "direct_payment", "amount": int(r["amount"]),
             "refund_amount": change, "verdict": verdict, "label": BEYOND_INVOICE[verdict]}
        )  # fmt: skip
    return out


def ended_unpaid(conn: Connection, client_id: int, day: date) -> list[dict]:
    """Cases a closure file of day D ended with money still owed, as that file left them
    (``report.history``): the agency's remaining amount then, not the invoice's now, so a
    backfilled day lists the day's cases. An event without totals (its integer columns) falls
    back to the invoice now (``collection_ended``, its remaining amount)."""
    out = []
    for closure, row in closures_of_day(conn, client_id, day):
        if closure["as_recorded"]:
            owed = closure["remaining"] if closure["ended"] else 0
        else:
            ended = not row["is_open"] and row["invoice_status"] == "collection_ended"
            owed = int(row["invoice_remaining"]) if ended else 0
        if owed > 0:
            out.append(
                {
                    "agreement_id": closure["agreement_id"],
                    "case_id": closure["case_id"],
                    "status": closure["status"],
                    "invoice_no": closure["invoice_no"],
                    "remaining_amount": owed,
                }
            )
    return out


def interim_balances(conn: Connection, client_id: int, day: date) -> dict[str, dict]:
    """Settlement-mode agreements of the client -> their interim account at the end of ``day``
    (journal lines dated on or before it: a backfilled day shows its own).

    Each entry has ``account``, ``shared_with`` (the client's other settlement agreements on the
    same account) and ``balance`` (øre). Agreements sharing an account share its money, so the
    balance is given once, to the first of them by id; the others get ``balance`` None and
    ``shown_in`` (that agreement) when the balance is not zero: never the same money twice.
    """
    agreements = conn.execute(
        select(ink_agreement.c.agreement_id, ink_agreement.c.interim_account)
        .where(
            ink_agreement.c.client_id == client_id,
            ink_agreement.c.booking_mode == "settlement",
            ink_agreement.c.interim_account.is_not(None),
        )
        .order_by(ink_agreement.c.agreement_id)
    ).all()
    by_account: dict[str, list[str]] = {}
    for agreement_id, account in agreements:
        by_account.setdefault(account, []).append(agreement_id)
    j = erp_journal_line.c
    balances = dict(
        conn.execute(
            select(j.account, func.sum(j.debit - j.credit))
            .where(
                j.client_id == client_id,
                j.account.in_(list(by_account) or [""]),
                j.journal_date <= day,
            )
            .group_by(j.account)
        ).all()
    )
    out = {}
    for account, ids in by_account.items():
        balance = int(balances.get(account) or 0)
        for agreement_id in ids:
            first = agreement_id == ids[0]
            out[agreement_id] = {
                "account": account,
                "shared_with": [o for o in ids if o != agreement_id],
                "balance": balance if first else None,
                "shown_in": None if first or not balance else ids[0],
            }
    return out


def add_money_sections(conn: Connection, report, sections: dict, day: date) -> None:
    """Fill each agency section's money lists (after closure, refunds no after-closure event
    shows, ended unpaid, payouts awaited, interim account) for the client's day."""
    ids = list(sections)
    for r in after_closure(conn, ids, day):
        sections[r["agreement_id"]].after_closure.append(r)
    for r in refunds_not_reported(conn, ids).to_dict("records"):
        sections[r["agreement_id"]].beyond_claim.append(r)
    for r in ended_unpaid(conn, report.client_id, day):
        sections[r["agreement_id"]].ended_unpaid.append(r)
    for r in missing_payouts(conn, ids, day, known_by=day):
        sections[r["agreement_id"]].payouts_awaited.append(r)
    for agreement_id, interim in interim_balances(conn, report.client_id, day).items():
        section = sections[agreement_id]
        section.interim_account = interim["account"]
        section.interim_balance = interim["balance"]
        section.interim_shared_with = interim["shared_with"]
        section.interim_shown_in = interim["shown_in"]
