"""Prepare one agreement's correction file for a day: money after closure recorded, the
unreported events collected, the file written into the outbox, logged and its history events
written, all in one transaction (``inkasso.corrections``)."""

from __future__ import annotations

import hashlib
import logging
from datetime import date, datetime

from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    String,
    case,
    cast,
    delete,
    insert,
    literal,
    select,
    update,
)

from inkasso.agreements import Agreement
from inkasso.corrections.collect import collect_corrections, read_file_corrections
from inkasso.db.schema import ink_case_event, ink_correction, ink_file_log
from inkasso.delivery.outbox import free_file_name, log_outgoing_file, write_new_file
from inkasso.formats import load_layout, load_profile
from inkasso.formats.writer import unwritable_values
from inkasso.locks import lock_inbound, lock_outgoing
from inkasso.masking import mask_text
from inkasso.money.after_closure import detect_after_closure

log = logging.getLogger(__name__)

CORRECTIONS = "corrections"
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
    ``nothing_to_report``), file name, path, counts per type and the amount total (øre), and
    ``held``: the corrections the agency's layout cannot carry (case, field, masked reason),
    left unreported until the ERP value is fixed; they never stop the others.
    """
    business_date = date(business_date.year, business_date.month, business_date.day)
    summary = {
        "agreement_id": agreement.agreement_id,
        "business_date": business_date.isoformat(),
        "corrections": 0,
        "amount": 0,
        "held": [],
    }
    spec = load_profile(agreement.agency).file(CORRECTIONS)
    written = []  # the file this run put into the outbox, removed again if the run fails
    try:
        with engine.connect() as conn, conn.begin():
            lock_outgoing(conn, agreement.agreement_id)  # a concurrent run waits, then sees ours
            # no closure is applied meanwhile: which cases are open is read twice below
            lock_inbound(conn, agreement.agreement_id)
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
    layout = load_layout(spec.layout)
    added = collect_corrections(conn, agreement.agreement_id, business_date, file_id, now=now)
    frame = read_file_corrections(conn, file_id) if added else None
    if added:
        frame, summary["held"] = _hold_unwritable(conn, agreement, layout, frame)
    if not added or frame.empty:
        conn.execute(delete(ink_file_log).where(ink_file_log.c.file_id == file_id))
        log.info("%s: nothing to report up to %s", agreement.agreement_id, business_date)
        return summary | {"status": "nothing_to_report"}
    header = {"customer_no": agreement.customer_no_at_agency, "file_date": business_date}
    data = layout.write(header, frame[DETAIL_COLUMNS], file_name=file_name)
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


def _hold_unwritable(conn: Connection, agreement, layout, frame):
    """The corrections the layout can write, and the others held back: their rows removed, so
    that they stay unreported and go into the first file after the ERP value is fixed.

    A value the ERP changed after the case was sent (an invoice number with a character the
    agency's encoding lacks) must not stop the agreement's other corrections. Each held one is
    logged with its case and field, its reason masked, and listed in the summary (``held``).
    """
    reasons = unwritable_values(layout, frame[DETAIL_COLUMNS])
    if reasons.empty:
        return frame, []
    held = []
    for index, reason in reasons.items():
        field, _, _ = str(reason).partition(":")
        case_id = int(frame.at[index, "case_id"])
        held.append({"case_id": case_id, "field": field, "reason": mask_text(reason)})
        log.warning(
            "%s: correction of case %s held back, the agency's file cannot carry it: %s",
            agreement.agreement_id,
            case_id,
            mask_text(reason),
        )
    ids = [int(i) for i in frame.loc[reasons.index, "correction_id"]]
    conn.execute(delete(ink_correction).where(ink_correction.c.correction_id.in_(ids)))
    return frame.drop(index=reasons.index).reset_index(drop=True), held


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
