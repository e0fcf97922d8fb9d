"""Prepare one agreement's new-case file for a day: at most one file per agreement and day.

The frame around the streamed run (``inkasso.dispatch.run``): the agreement's outgoing-file
lock, the check for a file already logged that day, one transaction, and the clean-up of the
files a failed run wrote.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import Engine, and_, select

from inkasso.agreements import Agreement
from inkasso.db.schema import ink_file_log
from inkasso.dispatch.file import NEW_CASES
from inkasso.dispatch.run import DispatchRun
from inkasso.locks import lock_books, lock_outgoing

log = logging.getLogger(__name__)


def _existing_file(conn, agreement_id: str, business_date: date):
    """The file-log row of the agreement's new-case file of ``business_date``, or None."""
    return (
        conn.execute(
            select(ink_file_log).where(
                and_(
                    ink_file_log.c.agreement_id == agreement_id,
                    ink_file_log.c.direction == "out",
                    ink_file_log.c.kind == NEW_CASES,
                    ink_file_log.c.business_date == business_date,
                )
            )
        )
        .mappings()
        .first()
    )


def prepare_new_cases(
    engine: Engine,
    agreement: Agreement,
    business_date: date,
    cutoff: datetime,
    base,
    *,
    now: datetime,
    run_id: str | None = None,
) -> dict:
    """Write the day's new-case file for one agreement and open its cases (see module doc).

    ``cutoff`` is the moment up to which marks count (the run's logical date), ``base`` the
    ``ObjectStoragePath`` of files at rest, ``now`` the time in the file name and the cases'
    ``opened_at`` (later only when a payment of the client was booked later, `inkasso.stamps`,
    so that it counts as taken off the amount sent, as it was). Returns a small
    summary for XCom: status (``written``, ``exists``, ``nothing_to_send``), file, counts.

    The work streams chunk by chunk (a chunk never splits a customer): read, rules, holds, cases
    opened (staged, then ``INSERT ... SELECT ... RETURNING``), events, address write-backs, data
    checks, and the chunk's records appended to a temporary file. The trailer is written last;
    the finished file is then moved into the outbox, all inside the one transaction.
    """
    summary = {"agreement_id": agreement.agreement_id, "business_date": business_date.isoformat()}
    written: list = []  # files this run put into the outbox, removed again if it fails
    temporary: list[Path] = []  # the local file being written, removed whatever happens

    try:
        with engine.begin() as conn:
            # a concurrent prepare waits, then sees ours; and no bank import of the client books
            # between our read of the invoices and the commit: the cases' opened_at follows the
            # commit order (`inkasso.stamps`)
            lock_outgoing(conn, agreement.agreement_id)
            lock_books(conn, agreement.client_id)
            existing = _existing_file(conn, agreement.agreement_id, business_date)
            if existing is not None:
                return summary | _already_written(agreement, business_date, existing)
            run = DispatchRun(conn, agreement, business_date, base, now, run_id)
            temporary.append(run.tmp_path)
            try:
                return summary | run.stream(cutoff, written)
            finally:
                run.close()
    except BaseException:
        for path in written:  # the run left no trace in the database, so none on disk either
            path.unlink(missing_ok=True)
        raise
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)


def _already_written(agreement: Agreement, business_date: date, existing) -> dict:
    """The summary of a day whose file is already logged: nothing new is sent."""
    log.info(
        "%s: %s already written for %s by run %s; nothing new is sent",
        agreement.agreement_id,
        existing["file_name"],
        business_date,
        existing["run_id"],
    )
    return {
        "status": "exists",
        "prepared_by": existing["run_id"],
        "file_name": existing["file_name"],
        "cases": existing["record_count"],
        "amount": existing["amount_total"],
    }
