"""Step 1: list the source of the agreement's answers (the agency's SFTP outbox, or the manual
inbox a person drops them into, ``inkasso.inbound.sources``), read the new receipt and closure
files, archive, log.

A file is identified by agreement (client), name and sha256 (``ink_file_log`` is unique on
client, direction, name and checksum). Per file found in the source:

* not seen before → archived under ``inbound/<agreement>/<YYYY-MM-DD>/<name>`` and logged
  ``received`` (applied by ``process``);
* same name and checksum already logged → skipped (a file still lying there, or delivered
  twice); if it was applied, it is listed for ``tidy`` to move into the processed folder;
* same name as an *applied* file but other bytes → archived, logged ``flagged`` with an issue
  row, never applied (a person asks the agency what changed).

A backfill (the run's day before the newest day whose run listed the source) does not
touch the source: it re-processes that day's archive only.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, Engine, and_, func, insert, select

from inkasso.agreements import Agreement
from inkasso.db.schema import ink_agreement, ink_file_issue, ink_file_log, ink_inbound_fetch
from inkasso.formats import load_profile
from inkasso.inbound.sources import source_for

log = logging.getLogger(__name__)


def is_backfill(conn, agreement: Agreement, business_date: date) -> bool:
    """True when a later day already listed the agency's outbox: the run re-processes the archive."""
    newest = conn.execute(
        select(func.max(ink_inbound_fetch.c.business_date)).where(
            ink_inbound_fetch.c.agreement_id == agreement.agreement_id
        )
    ).scalar()
    return newest is not None and business_date < newest


def _note_fetch(conn, agreement: Agreement, business_date: date, now) -> None:
    """Remember that the source was listed for ``business_date`` (once per day)."""
    done = conn.execute(
        select(func.count()).where(
            ink_inbound_fetch.c.agreement_id == agreement.agreement_id,
            ink_inbound_fetch.c.business_date == business_date,
        )
    ).scalar()
    if not done:
        conn.execute(
            insert(ink_inbound_fetch).values(
                agreement_id=agreement.agreement_id, business_date=business_date, fetched_at=now
            )
        )


@contextmanager
def fetch_lock(engine: Engine, agreement_id: str) -> Generator[Connection, None, None]:
    """A transaction that holds the agreement's fetch lock until it ends (commit on success).

    PostgreSQL: a row lock on the agreement, ``FOR NO KEY UPDATE`` (it does not block inserts
    of cases and files that reference the agreement, only another fetch of it). SQLite: ``BEGIN
    IMMEDIATE``, the database's single writer (other writers wait, up to the busy timeout).
    """
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            # pysqlite only begins before DML: take the write lock now, before the first read
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
            return
        with conn.begin():
            conn.execute(
                select(ink_agreement.c.agreement_id)
                .where(ink_agreement.c.agreement_id == agreement_id)
                .with_for_update(key_share=True)
            )
            yield conn


def archive_path(base, agreement_id: str, business_date: date, name: str, data: bytes):
    """Where the original bytes are kept; a different file already there gets a checksum prefix."""
    folder = base / "inbound" / agreement_id / business_date.isoformat()
    path = folder / name
    if path.exists() and path.read_bytes() != data:
        path = folder / f"{hashlib.sha256(data).hexdigest()[:12]}_{name}"
    return path


def _keep(path, data: bytes) -> None:
    if path.exists() and path.read_bytes() == data:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def fetch_new_files(
    engine: Engine,
    agreement: Agreement,
    base,
    business_date: date,
    *,
    now: datetime,
    run_id: str | None = None,
) -> dict:
    """List, read, archive and log the agreement's new incoming files (see module doc).

    One run at a time per agreement: the decision "has a later day listed the source?", the
    listing and the logging happen under ``fetch_lock``, so overlapping runs of different days
    (a backfill beside today's run) never both take the same new files; the run that gets the
    lock first owns them. SFTP: two connections at most (list, download).

    Returns a summary for XCom: ``mode`` (``remote`` for the SFTP outbox, ``inbox`` for the
    manual inbox, ``archive`` for a backfill), ``received``, ``skipped``, ``flagged`` names,
    ``to_move`` (applied files still in the source) and, for the inbox, ``unknown`` (files not
    named as the profile says).
    """
    with fetch_lock(engine, agreement.agreement_id) as conn:
        return _fetch(conn, agreement, base, business_date, now=now, run_id=run_id)


def _fetch(
    conn: Connection,
    agreement: Agreement,
    base,
    business_date: date,
    *,
    now: datetime,
    run_id: str | None,
) -> dict:
    """``fetch_new_files`` inside the lock's transaction ``conn`` (every write goes through it)."""
    summary = {
        "agreement_id": agreement.agreement_id,
        "business_date": business_date.isoformat(),
        "received": [],
        "skipped": [],
        "flagged": [],
        "to_move": [],
    }
    if is_backfill(conn, agreement, business_date):
        log.info(
            "%s: %s is before the newest day logged; re-processing the archive only",
            agreement.agreement_id,
            business_date,
        )
        return summary | {"mode": "archive"}
    source = source_for(agreement, base)
    kinds = _list_source(conn, agreement, source, business_date, now, summary)
    if not kinds:
        return summary
    contents = source.read(sorted(kinds))
    known = conn.execute(
        select(ink_file_log.c.file_name, ink_file_log.c.sha256, ink_file_log.c.status).where(
            and_(
                ink_file_log.c.client_id == agreement.client_id,
                ink_file_log.c.direction == "in",
                ink_file_log.c.file_name.in_(list(kinds)),
            )
        )
    ).all()
    by_key = {(r.file_name, r.sha256): r.status for r in known}
    applied_names = {r.file_name for r in known if r.status in ("applied", "received")}
    for name in sorted(kinds):
        data = contents.get(name)
        if data is None:  # a run beside this one applied it and moved it away since the listing
            summary["skipped"].append(name)
            log.info("%s: %s moved away since the listing, skipped", agreement.agreement_id, name)
            continue
        digest = hashlib.sha256(data).hexdigest()
        status = by_key.get((name, digest))
        if status is not None:
            summary["skipped"].append(name)
            if status == "applied":
                summary["to_move"].append(name)
            log.info("%s: %s already logged (%s), skipped", agreement.agreement_id, name, status)
            continue
        new = _NewFile(name, kinds[name], data, digest, flagged=name in applied_names)
        _receive(conn, agreement, base, business_date, source, new, now, run_id, summary)
    return summary


def _list_source(conn, agreement: Agreement, source, business_date: date, now, summary) -> dict:
    """List the source (noted as listed for the day); returns {name: kind} of the files the
    profile names as the customer's receipts or closures. Adds ``mode``, ``listed`` (and, for
    an inbox, ``unknown``) to ``summary``."""
    profile = load_profile(agreement.agency)
    listed = source.list_names()
    _note_fetch(conn, agreement, business_date, now)
    kinds = {
        name: kind
        for name in listed
        if (kind := profile.incoming_kind(name, agreement.customer_no_at_agency))
    }
    summary |= {"mode": source.mode, "listed": len(listed)}
    if source.mode == "inbox":
        # a shared SFTP outbox holds other customers' files; a person's inbox should not
        summary["unknown"] = sorted(set(listed) - set(kinds))
        if summary["unknown"]:
            log.warning(
                "%s: %s in %s not named as %s's receipts or closures for customer %s; left there",
                agreement.agreement_id,
                summary["unknown"],
                source,
                agreement.agency,
                agreement.customer_no_at_agency,
            )
    log.info(
        "%s: %s files in %s, %s receipts/closures for customer %s",
        agreement.agreement_id,
        len(listed),
        source,
        len(kinds),
        agreement.customer_no_at_agency,
    )
    return kinds


@dataclass(frozen=True)
class _NewFile:
    """A file not logged before: its name, kind, bytes, checksum, and whether an applied file
    had its name (then it is flagged, never applied)."""

    name: str
    kind: str
    data: bytes
    digest: str
    flagged: bool


def _receive(conn, agreement: Agreement, base, business_date, source, new, now, run_id, summary):
    """Archive a new file and log it ``received`` (or ``flagged`` with an issue row)."""
    name, data, digest = new.name, new.data, new.digest
    path = archive_path(base, agreement.agreement_id, business_date, name, data)
    _keep(path, data)
    file_id = conn.execute(
        insert(ink_file_log).values(
            client_id=agreement.client_id,
            agreement_id=agreement.agreement_id,
            direction="in",
            kind=new.kind,
            file_name=name,
            business_date=business_date,
            status="flagged" if new.flagged else "received",
            path=str(path),
            sha256=digest,
            size_bytes=len(data),
            record_count=0,
            amount_total=0,
            remote_path=source.prefix + name,
            run_id=run_id,
            created_at=now,
        )
    ).inserted_primary_key[0]
    if new.flagged:
        reason = (
            f"{name} was already applied with other contents; this version "
            f"(sha256 {digest[:12]}…) is not applied - ask the agency what changed"
        )
        conn.execute(insert(ink_file_issue).values(file_id=file_id, reason=reason))
        summary["flagged"].append(name)
        log.warning("%s: %s", agreement.agreement_id, reason)
    else:
        summary["received"].append(name)
        log.info("%s: received %s (%s bytes)", agreement.agreement_id, name, len(data))
