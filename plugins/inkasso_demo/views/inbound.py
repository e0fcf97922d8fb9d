"""What the demo prints about one day of inbound: files read, cases moved, quarantine, to-dos."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, text

from inkasso.masking import mask_text
from inkasso.money.amounts import format_money

FILES_SQL = """
SELECT f.file_id, f.agreement_id, f.kind, f.file_name, f.status, f.record_count,
       f.amount_total, f.detail
FROM ink_file_log f
WHERE f.direction = 'in' AND f.business_date = :day AND f.kind IN ('receipt', 'closure')
ORDER BY f.agreement_id, f.kind DESC, f.file_name
"""
EVENTS_SQL = """
SELECT k.agreement_id, e.kind, COUNT(*) AS n
FROM ink_case_event e
JOIN ink_case k ON k.case_id = e.case_id
JOIN ink_file_log f ON f.file_id = e.file_id
WHERE f.direction = 'in' AND f.business_date = :day
GROUP BY k.agreement_id, e.kind
ORDER BY k.agreement_id, e.kind
"""
ISSUES_SQL = """
SELECT f.file_name, i.line, i.field, i.reason
FROM ink_file_issue i JOIN ink_file_log f ON f.file_id = i.file_id
WHERE f.direction = 'in' AND f.business_date = :day AND f.kind IN ('receipt', 'closure')
ORDER BY f.file_name, i.issue_id
"""
REJECTED_SQL = """
SELECT k.agreement_id, k.case_id, i.invoice_no, k.sent_amount, k.rejection_reason
FROM ink_case_event e
JOIN ink_case k ON k.case_id = e.case_id
JOIN erp_invoice i ON i.invoice_id = k.invoice_id
JOIN ink_file_log f ON f.file_id = e.file_id
WHERE e.kind = 'rejected' AND f.business_date = :day
ORDER BY k.agreement_id, k.case_id
"""


def print_inbound_day(engine: Engine, day: date, *, max_lines: int = 10) -> None:
    """Print the day's inbound files, the case changes they made, quarantine and rejections."""
    with engine.connect() as conn:
        files = conn.execute(text(FILES_SQL), {"day": day}).mappings().all()
        events = conn.execute(text(EVENTS_SQL), {"day": day}).mappings().all()
        issues = conn.execute(text(ISSUES_SQL), {"day": day}).mappings().all()
        rejected = conn.execute(text(REJECTED_SQL), {"day": day}).mappings().all()
    print(f"== inkasso_inbound {day}: {len(files)} file(s) from the agencies")
    for f in files:
        amount = f" collected {format_money(f['amount_total'])}" if f["kind"] == "closure" else ""
        print(
            f"  {f['agreement_id']:<17} {f['kind']:<8} {f['file_name']:<44} "
            f"{f['status']:<11} {f['record_count']:>5} records{amount}"
        )
    by_agreement: dict[str, list[str]] = {}
    for e in events:
        by_agreement.setdefault(e["agreement_id"], []).append(f"{e['kind']} {e['n']}")
    if by_agreement:
        print("  cases:")
        for agreement, parts in by_agreement.items():
            print(f"    {agreement:<17} " + ", ".join(parts))
    if issues:
        print(f"  quarantined / flagged ({len(issues)} problem(s)):")
        for i in issues[:max_lines]:
            where = f"line {i['line']} " if i["line"] else ""
            where += f"field {i['field']} " if i["field"] else ""
            print(f"    {i['file_name']}: {where}{mask_text(i['reason'])}")
        if len(issues) > max_lines:
            print(f"    ... and {len(issues) - max_lines} more")
    if rejected:
        print(f"  rejected by the agency, invoice back to a person ({len(rejected)}):")
        for r in rejected[:max_lines]:
            print(
                f"    {r['agreement_id']:<17} invoice {r['invoice_no']:<10} "
                f"{format_money(r['sent_amount']):>12}  {mask_text(r['rejection_reason'])}"
            )
        if len(rejected) > max_lines:
            print(f"    ... and {len(rejected) - max_lines} more")
