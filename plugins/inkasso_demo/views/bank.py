"""What the bank import did on one business day, printed for the demo (``make demo``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Engine, Select, func, select, text

from inkasso.bank.names import erp_names_by_file
from inkasso.db.schema import erp_invoice, erp_payment, ink_file_log, ink_payout
from inkasso.masking import mask_text
from inkasso.money.amounts import format_money

_FILES_SQL = (
    "SELECT f.file_id, f.client_id, f.kind, f.file_name, f.status, f.record_count, "
    "f.amount_total, f.detail FROM ink_file_log f WHERE f.direction = 'in' "
    "AND f.kind IN ('ocr_giro', 'bgmax', 'bank_unknown') AND f.business_date = :d "
    "ORDER BY f.client_id, f.file_name"
)
_ISSUES_SQL = (
    "SELECT s.file_id, s.line, s.field, s.reason FROM ink_file_issue s "
    "JOIN ink_file_log f ON f.file_id = s.file_id WHERE f.business_date = :d "
    "AND f.kind IN ('ocr_giro', 'bgmax', 'bank_unknown')"
)


def _day_rows(conn: Connection, sql: str, day: date) -> list:
    return conn.execute(text(sql), {"d": day}).mappings().all()


def _day_names(day: date):
    """The names the day's bank files' payments carry in ``erp_payment`` (inkasso.bank.names)."""
    files = select(ink_file_log.c.file_id).where(
        ink_file_log.c.direction == "in",
        ink_file_log.c.kind.in_(("ocr_giro", "bgmax")),
        ink_file_log.c.business_date == day,
    )
    return erp_names_by_file(files).subquery("names")


def _kinds_query(day: date) -> Select:
    """Per bank file of the day: its payments by kind and by the status of the paid invoice."""
    names, p, i = _day_names(day), erp_payment, erp_invoice
    status = func.coalesce(i.c.status, "")
    return (
        select(
            names.c.file_id,
            p.c.kind,
            status.label("st"),
            func.count().label("n"),
            func.sum(p.c.amount).label("amount"),
        )  # fmt: skip
        .select_from(p)
        .join(names, (names.c.client_id == p.c.client_id) & (names.c.bank_file == p.c.bank_file))
        .outerjoin(i, i.c.invoice_id == p.c.invoice_id)
        .group_by(names.c.file_id, p.c.kind, status)
    )


def _payouts_query(day: date) -> Select:
    """The agency payouts found in the day's bank files."""
    names, p, o = _day_names(day), erp_payment, ink_payout
    return (
        select(o.c.agreement_id, o.c.payment_date, o.c.amount, o.c.reconciliation, o.c.detail)
        .join(p, p.c.payment_id == o.c.payment_id)
        .join(names, (names.c.client_id == p.c.client_id) & (names.c.bank_file == p.c.bank_file))
        .order_by(o.c.agreement_id)
    )


def _print_file(f, kinds: list, issues: list) -> None:
    """One bank file: its status, then its payments by kind and its issues."""
    print(f"  client {f['client_id']}  {f['file_name']}  {f['kind']}  {f['status']}", end="")
    if f["status"] == "applied":
        print(f"  {f['record_count']} payments, {format_money(f['amount_total'])}")
    else:
        print(f"  ({f['detail'] or ''})")
    for k in kinds:
        if k["file_id"] == f["file_id"]:
            where = f" on invoices now {k['st']}" if k["st"] else ""
            print(f"      {k['kind']:<14} {k['n']:>5}  {format_money(k['amount']):>14}{where}")
    for issue in issues:
        if issue["file_id"] == f["file_id"]:
            print(
                f"      line {issue['line']} field {issue['field']}: {mask_text(issue['reason'])}"
            )


def _print_payouts(payouts: list) -> None:
    if payouts:
        print("  Agency payouts:")
    for p in payouts:
        print(
            f"    {p['agreement_id']:<18} {p['payment_date']}  {format_money(p['amount']):>14}  "
            f"{p['reconciliation']}: {p['detail'] or ''}"
        )


def print_bank_day(engine: Engine, day: date) -> None:
    """Print the bank files of ``day``, their payments by kind, payouts and their reconciliation."""
    with engine.connect() as conn:
        files = _day_rows(conn, _FILES_SQL, day)
        kinds = conn.execute(_kinds_query(day)).mappings().all()
        issues = _day_rows(conn, _ISSUES_SQL, day)
        payouts = conn.execute(_payouts_query(day)).mappings().all()
    print(f"Bank import {day}: {len(files)} file(s)")
    for f in files:
        _print_file(f, kinds, issues)
    _print_payouts(payouts)
