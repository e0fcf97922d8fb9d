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
import shutil
from datetime import date, datetime

from sqlalchemy import Engine, case, insert, select, update

from inkasso.agreements import Agreement
from inkasso.db.schema import ink_file_issue, ink_file_log
from inkasso.db.staging import bulk_session
from inkasso.formats import FormatError, load_profile
from inkasso.inbound.apply import apply_closure, apply_receipt
from inkasso.inbound.staging import StagedIds
from inkasso.inbound.validate import (
    DetailChecks,
    Issue,
    SuiteChecks,
    check_details,
    check_header,
    iter_parsed,
    read_cases,
)
from inkasso.locks import lock_inbound
from inkasso.masking import mask_text
from inkasso.runs import progress

log = logging.getLogger(__name__)

CHUNK_ROWS = 25_000  # lines of an inbound file held at once: memory is bounded by this
READ_BYTES = 1 << 24  # block size when hashing or copying a file


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


def quarantine(engine: Engine, row: dict, sha256: str, issues: list[Issue], base) -> str:
    """Copy the archived file (its bytes hash to ``sha256``) to ``quarantine/<agreement>/``,
    streamed; log it ``quarantined`` with its issues."""
    from airflow.sdk import ObjectStoragePath

    folder = base / "quarantine" / row["agreement_id"]
    path = folder / row["file_name"]
    if path.exists() and _sha256(path) != sha256:
        path = folder / f"{row['sha256'][:12]}_{row['file_name']}"
    path.parent.mkdir(parents=True, exist_ok=True)
    with ObjectStoragePath(row["path"]).open("rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst, READ_BYTES)
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


def _sha256(path) -> str:
    """The sha256 of a file, read in blocks."""
    with path.open("rb") as handle:
        return _HashingReader(handle).drain()


class _HashingReader:
    """A binary stream that hashes every byte read through it (one read of the file, not two)."""

    def __init__(self, stream) -> None:
        self.stream, self.sha = stream, hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        """Read and hash."""
        data = self.stream.read(size)
        self.sha.update(data)
        return data

    def drain(self) -> str:
        """Read the rest (a reader may stop at a format error) and return the hex digest."""
        while self.read(READ_BYTES):
            pass
        return self.sha.hexdigest()


def process_received(
    engine: Engine,
    agreement: Agreement,
    base,
    business_date: date,
    *,
    now: datetime,
    chunk_rows: int = CHUNK_ROWS,
) -> dict:
    """Check and apply (or quarantine) every received file of the agreement up to the day.

    Each file is read twice, chunk by chunk (``chunk_rows`` lines): once to check its hash,
    format, header and data-check suite; once inside the transaction that claims it, to check
    its records against the cases and apply them. Memory is bounded by a chunk, not the file.
    """
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
        sha, issues, suite = _first_pass(profile, agreement, row, chunk_rows)
        if sha != row["sha256"]:
            reason = f"archived copy {row['path']} no longer matches its sha256 {row['sha256']}"
            quarantine(engine, row, sha, [Issue(None, None, reason)], base)
            summary["quarantined"].append({"file_name": name, "problems": 1, "first": reason})
            continue
        try:
            if issues:
                raise _Quarantine(issues)
            outcome = _apply_file(engine, agreement, profile, row, suite, now, chunk_rows)
        except _Quarantine as q:
            quarantine(engine, row, sha, q.issues, base)
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


def _first_pass(
    profile, agreement: Agreement, row: dict, chunk_rows: int
) -> tuple[str, list[Issue], SuiteChecks]:
    """Stream the archived file once: its sha256; the format error (the only issue) or the
    header's issues, which quarantine the file; the data-check suite run on every chunk (its
    case ids' uniqueness is judged in the second pass, over the staged ids)."""
    from airflow.sdk import ObjectStoragePath

    suite = SuiteChecks(row["kind"])
    issues: list[Issue] = []
    with ObjectStoragePath(row["path"]).open("rb") as handle:
        reader = _HashingReader(handle)
        chunks = iter_parsed(profile, row["kind"], reader, row["file_name"], chunk_rows)
        try:
            for n, parsed in enumerate(chunks):
                if n == 0:
                    issues = check_header(parsed, agreement, row["business_date"])
                if not issues:  # read on: a format error later in the file still comes first
                    suite.check(parsed)
        except FormatError as err:
            issues = [Issue(err.line, err.field, err.reason)]
        sha = reader.drain()
    return sha, issues, suite


def _apply_file(engine, agreement, profile, row, suite, now, chunk_rows) -> dict | None:
    """Domain checks and apply in one transaction, the file streamed chunk by chunk into the
    apply; raises _Quarantine (all rolled back) on problems."""
    from airflow.sdk import ObjectStoragePath

    with engine.begin() as conn:
        lock_inbound(conn, agreement.agreement_id)  # a run beside this one applies first
        claimed = conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == row["file_id"], ink_file_log.c.status == "received")
            .values(status="applied")
        ).rowcount
        if not claimed:
            log.info("%s: %s applied by another run", agreement.agreement_id, row["file_name"])
            return None
        bulk_session(conn)  # before the first temporary table: see ``staging.bulk_session``
        checks = DetailChecks(StagedIds(conn))
        with ObjectStoragePath(row["path"]).open("rb") as handle:
            chunks = _checked_chunks(
                conn, agreement, profile, row, handle, checks, suite, chunk_rows
            )
            if row["kind"] == "receipt":
                outcome = apply_receipt(conn, chunks, row["file_id"], row["file_name"], now)
                amount = 0
            else:
                outcome = apply_closure(
                    conn, chunks, agreement, row["file_id"], row["file_name"], now
                )
                amount = outcome["collected"]
        conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == row["file_id"])
            .values(
                record_count=checks.rows,
                amount_total=amount,
                detail=json.dumps({k: v for k, v in outcome.items() if k != "rejected_cases"}),
            )
        )
    log.info(
        "%s: applied %s (%s records): %s",
        agreement.agreement_id,
        row["file_name"],
        checks.rows,
        outcome,
    )
    return outcome


def _checked_chunks(conn, agreement, profile, row, handle, checks, suite, chunk_rows):
    """The file's records chunk by chunk, merged with their cases, for the apply to stage.

    Every chunk is checked and its case ids staged (``checks.ids``); once any has an issue
    nothing more is handed on. After the last chunk the repeated case ids are found in SQL,
    and ``_Quarantine`` is raised with all issues (domain checks, then the suite's), inside the
    apply, so the transaction rolls back whatever was staged.
    """
    suite_issues = suite.issues(partial=True)
    for parsed in iter_parsed(profile, row["kind"], handle, row["file_name"], chunk_rows):
        cases = read_cases(conn, agreement.agreement_id, parsed.details["case_id"])
        issues, merged = check_details(
            parsed, cases, agreement, profile, row["business_date"], checks
        )
        if not issues and not suite_issues:
            yield merged
    issues = checks.finish() + suite.finish(checks.ids)
    checks.ids.drop()
    if issues:
        raise _Quarantine(issues)


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
