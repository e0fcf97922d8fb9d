"""The bank import of one client: each new file of the drop read, logged, booked, archived.

``import_bank_file`` handles one file, exactly once per content (SHA-256 in ``ink_file_log``):

* the original bytes are archived under ``inbound/bank/<client>/<business date>/``;
* a file that does not read, or whose control records disagree with its body, is quarantined
  whole (``quarantine/bank/<client>/``, file log status ``quarantined``, the line and field in
  ``ink_file_issue``): nothing of it is booked;
* an AvtaleGiro file (agreements, payment requests) is logged as ``ignored``: not money received;
* a payments file is logged ``applied`` and, in the same transaction, its payments recorded in
  ``erp_payment`` (matched by KID / OCR reference), applied to invoices, payouts logged and booked.

The same bytes under another name are logged once more as ``duplicate`` and not booked.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime

from sqlalchemy import Engine, insert, select

from inkasso.bank.detect import detect_format, read_bank_file
from inkasso.bank.model import BankFileError
from inkasso.bank.payouts import agency_accounts, log_payouts, reconcile_payouts
from inkasso.bank.record import record_payments
from inkasso.db.schema import ink_agreement, ink_file_issue, ink_file_log
from inkasso.inbound.staging import bulk_session
from inkasso.runs import progress

log = logging.getLogger(__name__)

BANK_KINDS = ("ocr_giro", "bgmax")
UNKNOWN_KIND = "bank_unknown"


def logged_files(engine: Engine, client_id: int) -> set[tuple[str, int]]:
    """(file name, size) of every bank file logged for the client: not fetched again."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ink_file_log.c.file_name, ink_file_log.c.size_bytes).where(
                ink_file_log.c.client_id == client_id,
                ink_file_log.c.direction == "in",
                ink_file_log.c.kind.in_((*BANK_KINDS, UNKNOWN_KIND)),
            )
        ).all()
    return {(name, int(size)) for name, size in rows}


def _log_row(client_id, kind, file_name, business_date, status, path, data, now, run_id, **extra):
    return {
        "client_id": client_id,
        "agreement_id": None,
        "direction": "in",
        "kind": kind,
        "file_name": file_name,
        "business_date": business_date,
        "status": status,
        "path": str(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "size_bytes": len(data),
        "record_count": 0,
        "amount_total": 0,
        "run_id": run_id,
        "created_at": now,
    } | extra


def import_bank_file(
    engine: Engine,
    client_id: int,
    file_name: str,
    data: bytes,
    *,
    business_date: date,
    base,
    now: datetime,
    run_id: str | None = None,
) -> dict:
    """Import one bank file of one client (see module doc); returns a small summary for XCom."""
    sha = hashlib.sha256(data).hexdigest()
    kind = detect_format(data) or UNKNOWN_KIND
    summary = {"client_id": client_id, "file_name": file_name, "kind": kind}
    with engine.connect() as conn:
        seen = conn.execute(
            select(ink_file_log.c.file_name, ink_file_log.c.status).where(
                ink_file_log.c.client_id == client_id,
                ink_file_log.c.direction == "in",
                ink_file_log.c.sha256 == sha,
            )
        ).all()
    if any(name == file_name for name, _ in seen):
        return summary | {"status": "already_imported"}
    archive = base / "inbound" / "bank" / str(client_id) / business_date.isoformat() / file_name
    archive.parent.mkdir(parents=True, exist_ok=True)
    archive.write_bytes(data)
    row = _log_row(client_id, kind, file_name, business_date, "", archive, data, now, run_id)
    if seen:
        first = seen[0][0]
        with engine.begin() as conn:
            conn.execute(
                insert(ink_file_log).values(
                    row | {"status": "duplicate", "detail": f"same bytes as {first}: not booked"}
                )
            )
        log.warning(
            "client %s: %s has the same bytes as %s; not booked", client_id, file_name, first
        )
        return summary | {"status": "duplicate", "same_as": first}
    try:
        bank_file = read_bank_file(data, file_name)
    except BankFileError as error:
        return summary | _quarantine(engine, row, base, data, error)
    except Exception as exc:  # a reader bug must not stop the drop: this file waits for a person
        error = BankFileError(file_name, None, None, f"the reader failed: {type(exc).__name__}")
        log.exception("client %s: reading %s failed", client_id, file_name)
        return summary | _quarantine(engine, row, base, data, error)
    if not bank_file.is_payments:
        with engine.begin() as conn:
            conn.execute(
                insert(ink_file_log).values(
                    row
                    | {
                        "status": "ignored",
                        "record_count": bank_file.control_count,
                        "detail": f"{bank_file.kind}: not payments received, nothing booked",
                    }
                )
            )
        log.info("client %s: %s is %s; not booked", client_id, file_name, bank_file.kind)
        return summary | {"status": "ignored", "file_kind": bank_file.kind}
    payments = bank_file.payments
    with engine.begin() as conn:
        bulk_session(conn)
        conn.execute(
            insert(ink_file_log).values(
                row
                | {
                    "status": "applied",
                    "record_count": len(payments),
                    "amount_total": int(payments["amount"].sum()),
                }
            )
        )
        counts = record_payments(
            conn, client_id, file_name, payments, agency_accounts(conn, client_id), now
        )
        counts |= log_payouts(conn, client_id, file_name)
    log.info("client %s: %s booked: %s", client_id, file_name, counts)
    return summary | {
        "status": "applied",
        "payments": len(payments),
        "amount": int(payments["amount"].sum()),
        **counts,
    }


def _quarantine(engine: Engine, row: dict, base, data: bytes, error: BankFileError) -> dict:
    """Put a broken file in quarantine and log where it breaks; nothing is booked."""
    folder = base / "quarantine" / "bank" / str(row["client_id"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / row["file_name"]).write_bytes(data)
    with engine.begin() as conn:
        file_id = conn.execute(
            insert(ink_file_log).values(
                row | {"status": "quarantined", "path": str(folder / row["file_name"]),
                       "detail": str(error)}
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(ink_file_issue).values(
                file_id=file_id, line=error.line, field=error.field, reason=error.reason
            )
        )
    log.warning("client %s: %s quarantined: %s", row["client_id"], row["file_name"], error)
    return {"status": "quarantined", "error": str(error), "line": error.line, "field": error.field}


def import_drop(
    engine: Engine, drop, *, business_date: date, base, now: datetime, run_id=None
) -> dict:
    """Import every new file of one client's drop, in name order; then reconcile its payouts."""
    from inkasso.bank.drops import fetch_drop, list_drop

    waiting = list_drop(drop)
    known = logged_files(engine, drop.client_id)
    new = [name for name, size in waiting.items() if (name, size) not in known]
    results = []
    for done, (name, data) in enumerate(fetch_drop(drop, new).items()):
        progress(log, f"client {drop.client_id}: bank files imported", done, len(new))
        results.append(
            import_bank_file(
                engine, drop.client_id, name, data,
                business_date=business_date, base=base, now=now, run_id=run_id,
            )
        )  # fmt: skip
    with engine.begin() as conn:
        agreements = [
            a for (a,) in conn.execute(
                select(ink_agreement.c.agreement_id).where(ink_agreement.c.client_id == drop.client_id)
            )
        ]  # fmt: skip
        reconciliation = reconcile_payouts(conn, agreements, business_date)
    return {
        "client_id": drop.client_id,
        "drop": drop.describe(),
        "waiting": len(waiting),
        "skipped_known": len(waiting) - len(new),
        "files": results,
        "reconciliation": reconciliation,
    }


def log_summary(results: list[dict]) -> dict:
    """Log one line per client and return the day's totals (files by status, payments by kind)."""
    totals: dict = {"clients": len(results), "files": {}, "payments": {}, "reconciliation": {}}
    for result in results:
        for file in result["files"]:
            totals["files"][file["status"]] = totals["files"].get(file["status"], 0) + 1
            for kind in (
                "direct",
                "direct_at_collection",
                "unmatched",
                "agency_payout",
                "collection",
            ):
                if kind in file:
                    totals["payments"][kind] = totals["payments"].get(kind, 0) + file[kind]
        for key in ("matched", "differs", "missing"):
            value = result["reconciliation"].get(key, 0)
            totals["reconciliation"][key] = totals["reconciliation"].get(key, 0) + value
        log.info(
            "client %s: %s files waiting, %s new: %s; payouts %s",
            result["client_id"],
            result["waiting"],
            len(result["files"]),
            ", ".join(f"{f['file_name']} {f['status']}" for f in result["files"]) or "-",
            result["reconciliation"],
        )
    return totals
