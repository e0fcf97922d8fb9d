"""Step 2+3 per agreement: every received file of the archive is checked, then applied or
quarantined, one transaction per file; a summary for XCom and the log.

Exactly once: a file is claimed by moving its log row from ``received`` to ``applied`` inside
the transaction that applies it; a retry, a rerun or a concurrent run finds nothing to claim.
Files are taken receipts first, then closures, each in name order (the agency's timestamp), so
a receipt and a closure arriving on the same day apply in the natural order.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import date, datetime

from sqlalchemy import Engine, case, insert, select, update

from inkasso.db.schema import ink_file_issue, ink_file_log
from inkasso.formats import load_profile
from inkasso.inbound.agreements import InboundAgreement
from inkasso.inbound.apply import apply_closure, apply_receipt
from inkasso.inbound.validate import (
    Issue,
    check_details,
    check_header,
    check_suite,
    parse_file,
    read_cases,
)
from inkasso.masking import mask_text
from inkasso.runs import progress

log = logging.getLogger(__name__)


class _Quarantine(Exception):
    def __init__(self, issues: list[Issue]) -> None:
        super().__init__(f"{len(issues)} problems")
        self.issues = issues


def pending_files(engine: Engine, agreement_id: str, business_date: date) -> list[dict]:
    """Received, not yet applied files of the agreement up to the day, in the order to apply."""
    t = ink_file_log
    with engine.connect() as conn:
        rows = conn.execute(
            select(t)
            .where(
                t.c.agreement_id == agreement_id,
                t.c.direction == "in",
                t.c.status == "received",
                t.c.business_date <= business_date,
            )
            .order_by(case((t.c.kind == "receipt", 0), else_=1), t.c.file_name, t.c.file_id)
        ).mappings()
        return [dict(r) for r in rows]


def quarantine(engine: Engine, row: dict, data: bytes, issues: list[Issue], base) -> str:
    """Copy the file to ``quarantine/<agreement>/``, log it ``quarantined`` with its issues."""
    folder = base / "quarantine" / row["agreement_id"]
    path = folder / row["file_name"]
    if path.exists() and path.read_bytes() != data:
        path = folder / f"{row['sha256'][:12]}_{row['file_name']}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    first = issues[0]
    where = f"line {first.line} " if first.line else ""
    where += f"field {first.field} " if first.field else ""
    with engine.begin() as conn:
        claimed = conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == row["file_id"], ink_file_log.c.status == "received")
            .values(
                status="quarantined",
                detail=f"{len(issues)} problem(s), first: {where}{first.reason}; copy at {path}",
            )
        ).rowcount
        if claimed:
            conn.execute(insert(ink_file_issue), [i.as_row(row["file_id"]) for i in issues])
    log.warning(
        "%s: %s quarantined: %s%s (%s problems)",
        row["agreement_id"],
        row["file_name"],
        where,
        mask_text(first.reason),
        len(issues),
    )
    return str(path)


def process_received(
    engine: Engine,
    agreement: InboundAgreement,
    base,
    business_date: date,
    *,
    now: datetime,
) -> dict:
    """Check and apply (or quarantine) every received file of the agreement up to the day."""
    from airflow.sdk import ObjectStoragePath

    profile = load_profile(agreement.agency)
    summary = {
        "agreement_id": agreement.agreement_id,
        "business_date": business_date.isoformat(),
        "applied": [],
        "quarantined": [],
    }
    pending = pending_files(engine, agreement.agreement_id, business_date)
    for done, row in enumerate(pending, start=1):
        progress(
            log, f"{agreement.agreement_id}: files applied or quarantined", done - 1, len(pending)
        )
        name = row["file_name"]
        data = ObjectStoragePath(row["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            reason = f"archived copy {row['path']} no longer matches its sha256 {row['sha256']}"
            quarantine(engine, row, data, [Issue(None, None, reason)], base)
            summary["quarantined"].append({"file_name": name, "problems": 1, "first": reason})
            continue
        parsed = parse_file(profile, row["kind"], data, name, row["business_date"])
        issues = parsed.issues or check_header(parsed, agreement, row["business_date"])
        try:
            if issues:
                raise _Quarantine(issues)
            suite_issues = check_suite(parsed)
            outcome = _apply_file(engine, agreement, profile, parsed, row, suite_issues, now)
        except _Quarantine as q:
            quarantine(engine, row, data, q.issues, base)
            first = q.issues[0]
            summary["quarantined"].append(
                {
                    "file_name": name,
                    "problems": len(q.issues),
                    "line": first.line,
                    "field": first.field,
                    "first": first.reason,
                }
            )
            continue
        if outcome is not None:
            summary["applied"].append({"file_name": name, "kind": row["kind"]} | outcome)
    return summary


def _apply_file(engine, agreement, profile, parsed, row, suite_issues, now) -> dict | None:
    """Domain checks and apply in one transaction; raises _Quarantine (rolled back) on problems."""
    details = parsed.details
    with engine.begin() as conn:
        claimed = conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == row["file_id"], ink_file_log.c.status == "received")
            .values(status="applied")
        ).rowcount
        if not claimed:
            log.info("%s: %s applied by another run", agreement.agreement_id, row["file_name"])
            return None
        cases = read_cases(conn, agreement.agreement_id, details["case_id"])
        issues, merged = check_details(parsed, cases, agreement, profile, row["business_date"])
        issues += suite_issues
        if issues:
            raise _Quarantine(issues)
        # apply takes the checked records chunk by chunk (here: the one frame of the file)
        chunks = [merged]
        if row["kind"] == "receipt":
            outcome = apply_receipt(conn, chunks, row["file_id"], row["file_name"], now)
            amount = 0
        else:
            outcome = apply_closure(conn, chunks, agreement, row["file_id"], row["file_name"], now)
            amount = outcome["collected"]
        conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == row["file_id"])
            .values(
                record_count=len(details),
                amount_total=amount,
                detail=json.dumps({k: v for k, v in outcome.items() if k != "rejected_cases"}),
            )
        )
    log.info(
        "%s: applied %s (%s records): %s",
        agreement.agreement_id,
        row["file_name"],
        len(details),
        outcome,
    )
    return outcome


def log_summary(results: list[dict]) -> dict:
    """Log one line per agreement of an inbound run and return the totals."""
    totals = {"agreements": len(results), "applied": 0, "quarantined": 0, "flagged": 0}
    for res in results:
        log.info(
            "%-18s mode=%-7s received=%s skipped=%s flagged=%s applied=%s quarantined=%s moved=%s",
            res.get("agreement_id"),
            res.get("mode"),
            len(res.get("received", [])),
            len(res.get("skipped", [])),
            len(res.get("flagged", [])),
            [a["file_name"] for a in res.get("applied", [])],
            [q["file_name"] for q in res.get("quarantined", [])],
            res.get("moved", []),
        )
        totals["applied"] += len(res.get("applied", []))
        totals["quarantined"] += len(res.get("quarantined", []))
        totals["flagged"] += len(res.get("flagged", []))
    return totals
