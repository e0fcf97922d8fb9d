"""The corrections flow: direct payments, credit notes and recalls on cases at the agency ->
one correction file per agreement -> the agency.

``prepare_corrections`` does, per agreement and in one database transaction:

1. logs the file it is about to write (``ink_file_log`` kind ``corrections``, status ``written``);
2. collects every direct payment (``erp_payment`` kind ``direct``) and every credit note and
   recall (``erp_invoice_adjustment``) on an invoice with an open case of the agreement, dated up
   to the run's business day and not reported yet, into ``ink_correction`` pointing at that file
   (set-based ``INSERT ... SELECT``; the unique ``(source, source_id)`` makes each event reported
   once). Nothing found: the log row goes again and no file is written;
3. writes the corrections with the agency profile's corrections layout and name (Lowell: ``RD``
   + customer number + date + time) into the outbox, completes the log row (checksum, size,
   count, total) and writes one history event per correction (``ink_case_event``).

Before that, money that moved on the agreement's cases after they ended (direct payments,
credit notes, recalls the agency will not hear of) is recorded for a person
(``inkasso.money.after_closure``): over-payments and refunds due appear in the day's mail.

Two runs of one agreement at once (overlapping runs, a backfill) take turns on the agreement's
outgoing-file lock (``inkasso.locks``): the second finds the events reported by the first and
ends with ``nothing_to_report``. If anything fails, the transaction rolls back and the file is
removed: the events are collected again by the next run. Delivery is ``inkasso.dispatch.deliver_pending`` (SFTP or the manual outbox),
which sends every written, undelivered file of the agreement, so a file that could not go out is
delivered by the retry as the same file. A recall closes nothing here: the agency's closure does.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    DateTime,
    Engine,
    Integer,
    String,
    case,
    cast,
    column,
    delete,
    insert,
    literal,
    select,
    update,
)

from inkasso.db.schema import ink_case_event, ink_correction, ink_file_log
from inkasso.dispatch import Agreement
from inkasso.formats import load_layout, load_profile
from inkasso.locks import lock_outgoing
from inkasso.money.after_closure import detect_after_closure
from inkasso.outbox import free_file_name, log_outgoing_file, write_new_file
from inkasso.sql import query

log = logging.getLogger(__name__)

CORRECTIONS = "corrections"
LOCAL_TZ = ZoneInfo("Europe/Oslo")
READ_CHUNK = 50_000
# correction type in the file -> history event kind
EVENT_KINDS = {"DP": "direct_payment", "CN": "credit_note", "RC": "recall"}
DETAIL_COLUMNS = [
    "case_id",
    "agency_case_ref",
    "invoice_no",
    "correction_type",
    "amount",
    "correction_date",
]
_INSERT_COLUMNS = [
    "case_id",
    "agreement_id",
    "source",
    "source_id",
    "correction_type",
    "amount",
    "correction_date",
    "created_at",
    "file_id",
]


def collect_corrections(
    conn: Connection, agreement_id: str, through: date, file_id: int, *, now: datetime
) -> int:
    """Record the agreement's unreported events dated up to ``through`` in ``ink_correction``,
    reported in the file ``file_id``.

    Two ``INSERT ... SELECT`` statements (payments, adjustments); returns the rows added.
    """
    through = date(through.year, through.month, through.day)  # a plain date (not pendulum's)
    params = {"agreement_id": agreement_id, "through": through, "yes": True}
    payments = (
        query("erp/select_direct_payments_at_collection")
        .columns(
            column("case_id", Integer),
            column("agreement_id", String),
            column("source_id", Integer),
            column("amount", BigInteger),
            column("correction_date", Date),
        )
        .subquery("p")
    )
    adjustments = (
        query("erp/select_adjustments_at_collection")
        .columns(
            column("case_id", Integer),
            column("agreement_id", String),
            column("source_id", Integer),
            column("kind", String),
            column("amount", BigInteger),
            column("correction_date", Date),
        )
        .subquery("a")
    )
    stamp = literal(now, DateTime(timezone=True))
    file_ref = literal(file_id, Integer)
    added = conn.execute(
        insert(ink_correction).from_select(
            _INSERT_COLUMNS,
            select(
                payments.c.case_id,
                payments.c.agreement_id,
                literal("payment", String),
                payments.c.source_id,
                literal("DP", String),
                payments.c.amount,
                payments.c.correction_date,
                stamp,
                file_ref,
            ),
        ),
        params,
    ).rowcount
    adjusted = conn.execute(
        insert(ink_correction).from_select(
            _INSERT_COLUMNS,
            select(
                adjustments.c.case_id,
                adjustments.c.agreement_id,
                literal("adjustment", String),
                adjustments.c.source_id,
                case((adjustments.c.kind == "recall", "RC"), else_="CN"),
                adjustments.c.amount,
                adjustments.c.correction_date,
                stamp,
                file_ref,
            ),
        ),
        params,
    ).rowcount
    return added + adjusted


def read_file_corrections(conn: Connection, file_id: int) -> pd.DataFrame:
    """The corrections reported in ``file_id``, as the file's detail frame (+ correction_id)."""
    chunks = pd.read_sql(
        query("erp/select_file_corrections"),
        conn,
        params={"file_id": file_id},
        chunksize=READ_CHUNK,
    )
    frame = pd.concat(list(chunks), ignore_index=True)
    for col in ("correction_id", "case_id", "amount"):
        frame[col] = frame[col].astype("int64")
    frame["correction_date"] = pd.to_datetime(frame["correction_date"]).dt.date
    frame["agency_case_ref"] = frame["agency_case_ref"].astype(object)
    frame["agency_case_ref"] = frame["agency_case_ref"].where(frame["agency_case_ref"].notna(), "")
    frame["invoice_no"] = frame["invoice_no"].astype(str)
    return frame


def prepare_corrections(
    engine: Engine,
    agreement: Agreement,
    business_date: date,
    base,
    *,
    now: datetime,
    run_id: str | None = None,
) -> dict:
    """Collect, write and log the agreement's correction file for ``business_date`` (module doc).

    Events dated up to ``business_date`` count. ``base`` is the ``ObjectStoragePath`` of files at
    rest, ``now`` the time in the file name. Returns a summary for XCom: status (``written`` or
    ``nothing_to_report``), file name, path, counts per type and the amount total (øre).
    """
    business_date = date(business_date.year, business_date.month, business_date.day)
    summary = {
        "agreement_id": agreement.agreement_id,
        "business_date": business_date.isoformat(),
        "corrections": 0,
        "amount": 0,
    }
    spec = load_profile(agreement.agency).file(CORRECTIONS)
    written = []  # the file this run put into the outbox, removed again if the run fails
    try:
        with engine.connect() as conn, conn.begin():
            lock_outgoing(conn, agreement.agreement_id)  # a concurrent run waits, then sees ours
            # money on cases that already ended is not for the agency: recorded for a person
            summary |= detect_after_closure(
                conn, agreement.agreement_id, agreement.client_id, business_date, now=now
            )
            result = _prepare_in_transaction(
                conn, agreement, business_date, base, spec, now, run_id, summary, written
            )
    except BaseException:
        for path in written:
            path.unlink(missing_ok=True)
        raise
    return result


def _prepare_in_transaction(
    conn, agreement, business_date, base, spec, now, run_id, summary, written
) -> dict:
    """The body of prepare_corrections, inside its transaction."""
    file_name, path = free_file_name(
        conn,
        agreement.agreement_id,
        agreement.customer_no_at_agency,
        spec,
        now,
        base / "outbox" / agreement.agreement_id,
    )
    file_id = log_outgoing_file(
        conn, agreement, CORRECTIONS, business_date, file_name, path, now=now, run_id=run_id
    )
    added = collect_corrections(conn, agreement.agreement_id, business_date, file_id, now=now)
    if not added:
        conn.execute(delete(ink_file_log).where(ink_file_log.c.file_id == file_id))
        log.info("%s: nothing to report up to %s", agreement.agreement_id, business_date)
        return summary | {"status": "nothing_to_report"}
    frame = read_file_corrections(conn, file_id)
    header = {"customer_no": agreement.customer_no_at_agency, "file_date": business_date}
    data = load_layout(spec.layout).write(header, frame[DETAIL_COLUMNS], file_name=file_name)
    amount = int(frame["amount"].sum())
    conn.execute(
        update(ink_file_log)
        .where(ink_file_log.c.file_id == file_id)
        .values(
            sha256=hashlib.sha256(data).hexdigest(),
            size_bytes=len(data),
            record_count=len(frame),
            amount_total=amount,
        )
    )
    _write_events(conn, file_id, file_name, now)
    write_new_file(path, data)
    written.append(path)
    counts = {
        str(k): int(v) for k, v in frame["correction_type"].value_counts().sort_index().items()
    }
    log.info(
        "%s: wrote %s with %s corrections, %s øre: %s",
        agreement.agreement_id,
        file_name,
        len(frame),
        amount,
        counts,
    )
    return summary | {
        "status": "written",
        "file_name": file_name,
        "path": str(path),
        "corrections": len(frame),
        "amount": amount,
        "types": counts,
    }


def _write_events(conn: Connection, file_id: int, file_name: str, now: datetime) -> None:
    """One history event per correction of the file, set-based."""
    c = ink_correction.c
    kind = case(*((c.correction_type == t, k) for t, k in EVENT_KINDS.items()), else_="correction")
    detail = (
        literal(f"reported in {file_name}: ", String)
        + c.correction_type
        + literal(" ", String)
        + cast(c.amount, String)
        + literal(" øre dated ", String)
        + cast(c.correction_date, String)
        + case(
            (c.correction_type == "RC", literal(" (recall from collection)", String)),
            else_=literal("", String),
        )
    )
    conn.execute(
        insert(ink_case_event).from_select(
            ["case_id", "at", "kind", "detail", "file_id"],
            select(c.case_id, literal(now, DateTime(timezone=True)), kind, detail, c.file_id).where(
                c.file_id == file_id
            ),
        )
    )


def log_summary(results: list[dict]) -> dict:
    """Log one line per agreement of a corrections run and return the totals."""
    totals = {"agreements": len(results), "files": 0, "corrections": 0, "amount": 0}
    for res in results:
        prep = res.get("prepared", {})
        log.info(
            "%-18s %-18s corrections=%-6s amount=%-12s delivered=%s",
            res["agreement_id"],
            prep.get("status"),
            prep.get("corrections", 0),
            prep.get("amount", 0),
            [f["file_name"] for f in res.get("files", [])],
        )
        if prep.get("status") == "written":
            totals["files"] += 1
            totals["corrections"] += int(prep.get("corrections", 0))
            totals["amount"] += int(prep.get("amount", 0))
    return totals
