"""Delivery: every logged, undelivered outgoing file of an agreement reaches its agency.

The one place where a file in the outbox (a new-case file of ``inkasso.dispatch``, a correction
file of ``inkasso.corrections``) goes out: by SFTP (temporary name, sha256 read back, rename; a
file already on the server under its final name with the same sha256 is not sent again) or into
the manual-export outbox. Each file is claimed (``delivering``, who and when, committed) before
it is uploaded, so a second deliverer skips it; the claim of a killed deliverer is resumed by
the next run (``inkasso.delivery.claims``). A file that could not be delivered yesterday goes out
with today's retry: the same bytes (its checksum is checked against the file log first), never a
new file.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import datetime

from sqlalchemy import Engine, insert, literal, select, update

from inkasso.agreements import Agreement
from inkasso.db.schema import ink_case, ink_case_event, ink_correction, ink_file_log
from inkasso.delivery.claims import claim_pending, release_claims
from inkasso.formats import load_profile
from inkasso.locks import DeliveryClaim
from inkasso.runs import progress

log = logging.getLogger(__name__)


class FileIntegrityError(RuntimeError):
    """A file at rest no longer matches the checksum in the file log: it is not delivered."""


def deliver_pending(engine: Engine, agreement: Agreement, base, *, now: datetime) -> dict:
    """Deliver every logged, undelivered outgoing file of the agreement (see module doc).

    Each file is claimed first (``delivering``, committed with who and when): a deliverer
    running beside this one skips it (listed under ``claimed_elsewhere``); a claim whose
    deliverer is gone (killed) is resumed, the agency's copy being checked by sha256. A failure
    hands the claims back (``written``) for the next run.
    """
    summary = {"agreement_id": agreement.agreement_id, "mode": agreement.mode, "files": []}
    with DeliveryClaim(engine) as claim:
        pending, busy = claim_pending(engine, agreement.agreement_id, claim)
        if busy:
            summary["claimed_elsewhere"] = busy
            log.info("%s: %s being delivered by another run", agreement.agreement_id, busy)
        if not pending:
            return summary
        try:
            outcomes = _deliver_claimed(agreement, base, pending)
            _record_delivered(engine, agreement, claim, outcomes, now, summary)
        except BaseException:
            try:
                release_claims(engine, claim, [r["file_id"] for r in pending])
            except Exception:  # the database is gone too: the claims die with this deliverer
                log.exception("%s: claims not handed back", agreement.agreement_id)
            raise
    return summary


def _deliver_claimed(agreement: Agreement, base, pending: list) -> list[tuple]:
    """Check the claimed files at rest and deliver them; (row, outcome, remote, status) each."""
    from airflow.sdk import ObjectStoragePath

    from inkasso.transport import Delivery, deliver_manual, deliver_sftp

    for done, row in enumerate(pending):
        progress(
            log, f"{agreement.agreement_id}: files checked before delivery", done, len(pending)
        )
        data = ObjectStoragePath(row["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise FileIntegrityError(
                f"{row['path']}: checksum differs from the file log ({row['sha256']}); not delivered"
            )
    if agreement.mode != "sftp":
        outbox = base / "manual_outbox" / agreement.agreement_id
        return [
            (r, "exported", str(deliver_manual(ObjectStoragePath(r["path"]), outbox)), "exported")
            for r in pending
        ]
    remote_dir = load_profile(agreement.agency).remote.upload_dir
    results = deliver_sftp(
        agreement.sftp_conn_id,
        [
            Delivery(
                source=ObjectStoragePath(r["path"]),
                remote_dir=remote_dir,
                remote_name=r["file_name"],
                size=r["size_bytes"],
                sha256=r["sha256"],
                agreement_id=agreement.agreement_id,
            )
            for r in pending
        ],
    )
    return [
        (r, res.outcome, f"{remote_dir.rstrip('/')}/{r['file_name']}", "delivered")
        for r, res in zip(pending, results, strict=True)
    ]


def _record_delivered(engine, agreement, claim, outcomes, now, summary) -> None:
    """Log each delivered file and its cases' events, once: only while this claim holds it."""
    with engine.begin() as conn:
        for row, outcome, remote, status in outcomes:
            held = conn.execute(
                update(ink_file_log)
                .where(
                    ink_file_log.c.file_id == row["file_id"],
                    ink_file_log.c.status == "delivering",
                    ink_file_log.c.claimed_by == claim.who,
                )
                .values(status=status, remote_path=remote, delivered_at=now)
            ).rowcount
            if not held:  # another deliverer took the claim over and records it itself
                log.warning("%s: %s recorded by another run", agreement.agreement_id, remote)
                continue
            _delivery_events(conn, row, status, f"{row['file_name']} -> {remote}", now)
            summary["files"].append(
                {"file_name": row["file_name"], "outcome": outcome, "to": remote}
            )
            log.info("%s: %s %s -> %s", agreement.agreement_id, row["file_name"], outcome, remote)


def _delivery_events(conn, row, status: str, detail: str, now: datetime) -> None:
    """One history event per case of the file (a correction file: the cases it corrects)."""
    conn.execute(
        insert(ink_case_event).from_select(
            ["case_id", "at", "kind", "detail", "file_id"],
            select(
                ink_case.c.case_id,
                literal(now),
                literal(status),
                literal(detail),
                ink_case.c.file_id,
            ).where(ink_case.c.file_id == row["file_id"]),
        )
    )
    if row["kind"] == "corrections":  # its cases are those of its corrections
        conn.execute(
            insert(ink_case_event).from_select(
                ["case_id", "at", "kind", "detail", "file_id"],
                select(
                    ink_correction.c.case_id,
                    literal(now),
                    literal(status),
                    literal(detail),
                    ink_correction.c.file_id,
                )
                .where(ink_correction.c.file_id == row["file_id"])
                .distinct(),
            )
        )
