"""What the bank import did on one business day, printed for the demo (``make demo``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, Engine, text

from inkasso.masking import mask_text
from inkasso.money.amounts import format_money

_FILES_SQL = (
    "SELECT f.file_id, f.client_id, f.kind, f.file_name, f.status, f.record_count, "
    "f.amount_total, f.detail FROM ink_file_log f WHERE f.direction = 'in' "
    "AND f.kind IN ('ocr_giro', 'bgmax', 'bank_unknown') AND f.business_date = :d "
    "ORDER BY f.client_id, f.file_name"
)
# a file's payments: under its own name, or '<name>#<file_id>' when the name was used before
# (inkasso.bank.names); the plain name is the client's first applied file's of that name
_OWN_PAYMENTS = (
    "f.client_id = p.client_id AND f.direction = 'in' AND f.status = 'applied' "
    "AND f.kind IN ('ocr_giro', 'bgmax') "
    "AND (p.bank_file = f.file_name || '#' || CAST(f.file_id AS VARCHAR(12)) "
    "OR (p.bank_file = f.file_name AND NOT EXISTS (SELECT 1 FROM ink_file_log e "
    "WHERE e.client_id = f.client_id AND e.file_name = f.file_name AND e.direction = 'in' "
    "AND e.kind IN ('ocr_giro', 'bgmax') AND e.status = 'applied' AND e.file_id < f.file_id)))"
)
_KINDS_SQL = (
    "SELECT f.file_id, p.kind, COALESCE(i.status, '') AS st, "
    "COUNT(*) AS n, SUM(p.amount) AS amount FROM erp_payment p "
    "LEFT JOIN erp_invoice i ON i.invoice_id = p.invoice_id "
    f"JOIN ink_file_log f ON {_OWN_PAYMENTS} AND f.business_date = :d "
    "GROUP BY f.file_id, p.kind, COALESCE(i.status, '')"
)
_ISSUES_SQL = (
    "SELECT s.file_id, s.line, s.field, s.reason FROM ink_file_issue s "
    "JOIN ink_file_log f ON f.file_id = s.file_id WHERE f.business_date = :d "
    "AND f.kind IN ('ocr_giro', 'bgmax', 'bank_unknown')"
)
_PAYOUTS_SQL = (
    "SELECT o.agreement_id, o.payment_date, o.amount, o.reconciliation, o.detail "
    "FROM ink_payout o JOIN erp_payment p ON p.payment_id = o.payment_id "
    f"JOIN ink_file_log f ON {_OWN_PAYMENTS} AND f.business_date = :d ORDER BY o.agreement_id"
)


def _day_rows(conn: Connection, sql: str, day: date) -> list:
    return conn.execute(text(sql), {"d": day}).mappings().all()


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
        kinds = _day_rows(conn, _KINDS_SQL, day)
        issues = _day_rows(conn, _ISSUES_SQL, day)
        payouts = _day_rows(conn, _PAYOUTS_SQL, day)
    print(f"Bank import {day}: {len(files)} file(s)")
    for f in files:
        _print_file(f, kinds, issues)
    _print_payouts(payouts)
