"""What the bank import did on one business day, printed for the demo (``make demo``)."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, text

from inkasso.masking import mask_text
from inkasso.money.amounts import format_money


def print_bank_day(engine: Engine, day: date) -> None:
    """Print the bank files of ``day``, their payments by kind, payouts and their reconciliation."""
    with engine.connect() as conn:
        files = (
            conn.execute(
                text(
                    "SELECT f.file_id, f.client_id, f.kind, f.file_name, f.status, f.record_count, "
                    "f.amount_total, f.detail FROM ink_file_log f WHERE f.direction = 'in' "
                    "AND f.kind IN ('ocr_giro', 'bgmax', 'bank_unknown') AND f.business_date = :d "
                    "ORDER BY f.client_id, f.file_name"
                ),
                {"d": day},
            )
            .mappings()
            .all()
        )
        kinds = (
            conn.execute(
                text(
                    "SELECT p.client_id, p.bank_file, p.kind, COALESCE(i.status, '') AS st, "
                    "COUNT(*) AS n, SUM(p.amount) AS amount FROM erp_payment p "
                    "LEFT JOIN erp_invoice i ON i.invoice_id = p.invoice_id "
                    "JOIN ink_file_log f ON f.client_id = p.client_id AND f.file_name = p.bank_file "
                    "AND f.direction = 'in' AND f.status = 'applied' AND f.business_date = :d "
                    "GROUP BY p.client_id, p.bank_file, p.kind, COALESCE(i.status, '')"
                ),
                {"d": day},
            )
            .mappings()
            .all()
        )
        issues = (
            conn.execute(
                text(
                    "SELECT s.file_id, s.line, s.field, s.reason FROM ink_file_issue s "
                    "JOIN ink_file_log f ON f.file_id = s.file_id WHERE f.business_date = :d "
                    "AND f.kind IN ('ocr_giro', 'bgmax', 'bank_unknown')"
                ),
                {"d": day},
            )
            .mappings()
            .all()
        )
        payouts = (
            conn.execute(
                text(
                    "SELECT o.agreement_id, o.payment_date, o.amount, o.reconciliation, o.detail "
                    "FROM ink_payout o JOIN erp_payment p ON p.payment_id = o.payment_id "
                    "JOIN ink_file_log f ON f.client_id = p.client_id AND f.file_name = p.bank_file "
                    "AND f.direction = 'in' AND f.business_date = :d ORDER BY o.agreement_id"
                ),
                {"d": day},
            )
            .mappings()
            .all()
        )
    print(f"Bank import {day}: {len(files)} file(s)")
    for f in files:
        print(f"  client {f['client_id']}  {f['file_name']}  {f['kind']}  {f['status']}", end="")
        if f["status"] == "applied":
            print(f"  {f['record_count']} payments, {format_money(f['amount_total'])}")
        else:
            print(f"  ({f['detail'] or ''})")
        for k in kinds:
            if k["client_id"] == f["client_id"] and k["bank_file"] == f["file_name"]:
                where = f" on invoices now {k['st']}" if k["st"] else ""
                print(f"      {k['kind']:<14} {k['n']:>5}  {format_money(k['amount']):>14}{where}")
        for issue in issues:
            if issue["file_id"] == f["file_id"]:
                print(
                    f"      line {issue['line']} field {issue['field']}: {mask_text(issue['reason'])}"
                )
    if payouts:
        print("  Agency payouts:")
    for p in payouts:
        print(
            f"    {p['agreement_id']:<18} {p['payment_date']}  {format_money(p['amount']):>14}  "
            f"{p['reconciliation']}: {p['detail'] or ''}"
        )
