"""Step 3: apply one checked receipt or closure file inside the caller's transaction, set-based.

Receipts
  * accepted, case ``sent`` → ``registered`` with the agency's reference (event ``registered``);
  * accepted, case already closed (its closure came first) → the reference is kept on the case,
    status unchanged (event ``receipt_after_closure``);
  * rejected, case ``sent``/``registered`` → case ``rejected`` with the reason, no longer open;
    its invoice leaves collection and comes back to a person: status ``open`` again and **not**
    marked for collection, so the next dispatch does not send it back by itself (event
    ``rejected``; the report lists these);
  * rejected, case already closed → nothing changes (event ``rejection_ignored``).
Closures (amounts are the case's totals to date)
  * case open (``sent``, ``registered``, ``partly_paid``) → status from the profile's code,
    collected and remaining amounts, closure date, agency reference; ``partly_paid`` keeps the
    case open (the agency goes on), every other status closes it; a case closed before its
    receipt says so in the event;
  * case already closed (paid, closed, recalled, uncollectible) and the agency now says it
    collected **more** (it went on collecting after closing) → the case takes the new amounts,
    closure date and status (a ``partly_paid`` code keeps the old status: the case stays
    closed), and the increase is collected money like any other (below); event
    ``collected_after_closure``. Money is never ignored while the invoice says it is owed;
  * case already closed with no more collected, or rejected → nothing changes (event
    ``closure_ignored``).
  * the event of a record that changed its case keeps the totals it gave the case in integer
    columns (``ink_case_event.collected_amount``, ``remaining_amount``), beside its text: a
    later mail of the day reports them from there;
  * what the agency collected since the case's previous closure record (the change in its
    collected amount) is one ``ink_collection`` row: the settlement that a payout must match;
  * in ``settlement`` booking mode that amount is also booked on the invoice (remaining down, never
    below zero: more is an over-payment the mail lists as paid beyond the claim; its status is
    left to the case: an open one keeps it at collection) as a payment with method
    ``collection`` (``erp_payment`` kind ``agency_settlement``) and two journal lines: debit the
    interim account (default 1684, a short-term claim on the agency), credit receivables 1500,
    ``source_ref`` ``closure:<file_id>:<case_id>`` (never booked twice). In ``bank`` mode the
    ledger is left to the bank import, which books the agency's payout by the invoice's KID;
  * an invoice whose case ended leaves *at collection*: ``paid`` (``credited`` after a recall)
    with nothing left, ``payout_pending`` while the agency's payout is on its way,
    ``collection_ended`` with money still owed, for a person to decide
    (``include/sql/erp/update_ended_invoice_status.sql``).

Set-based, in bounded memory: the checked records arrive as one frame or chunk by chunk; each
chunk is reduced to one staging row per record (new status, amounts, event kind) and
appended to a temporary table (COPY on PostgreSQL, one executemany on SQLite). Once the whole
file is staged, a fixed handful of ``UPDATE ... FROM`` and ``INSERT ... SELECT`` statements write
cases, events, collections and the ERP's settlement bookings, all in the caller's transaction.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import DateTime, bindparam, text

from inkasso.agreements import Agreement
from inkasso.db.staging import bulk_session, load, stage_table
from inkasso.inbound.validate import FINAL_STATUSES
from inkasso.masking import mask_series
from inkasso.sql import query

RECEIVABLES_ACCOUNT = "1500"  # customer receivables, credited when a closure settles an invoice
OPEN_STATUSES = ("sent", "registered", "partly_paid")
ENDED_STATUSES = ("paid", "closed", "recalled", "uncollectible")  # a closed case (not rejected)
RECEIPT_STAGE = "tmp_inbound_receipt"
CLOSURE_STAGE = "tmp_inbound_closure"
RECEIPT_COLUMNS = {
    "seq": "seq",
    "case_id": "id",
    "invoice_id": "id",
    "changed": "bool",
    "new_status": "str",
    "ref": "str",
    "reason": "text",
    "is_open": "bool",
    "reopen": "bool",
    "kind": "str",
    "detail": "text",
}
CLOSURE_COLUMNS = {
    "seq": "seq",
    "case_id": "id",
    "invoice_id": "id",
    "live": "bool",
    "new_status": "str",
    "ref": "str",
    "is_open": "bool",
    "collected": "int",
    "remaining": "int",
    "closure_date": "date",
    "delta": "int",
    "settled": "int",
    "kind": "str",
    "case_status": "str",
    "late": "bool",
}


def _frames(chunks: pd.DataFrame | Iterable[pd.DataFrame]) -> Iterable[pd.DataFrame]:
    """One frame, or an iterable of frames (chunks of one file), as an iterable of frames."""
    return [chunks] if isinstance(chunks, pd.DataFrame) else chunks


def _typed(clause):
    """The clause with ``:now`` bound like the tables' timestamp columns (SQLite stores text)."""
    if ":now" in clause.text:
        clause = clause.bindparams(bindparam("now", type_=DateTime(timezone=True)))
    return clause


def _sql(statement: str):
    """A text statement of the pipeline tables, ``:now`` typed."""
    return _typed(text(statement))


def _ref(d: pd.DataFrame) -> pd.Series:
    """The agency's reference to keep on the case: the one from its receipt, else the file's."""
    return d["case_ref"].where(d["case_ref"].notna(), d["agency_case_ref"])


def _receipt_stage(
    d: pd.DataFrame, seq0: int, file_name: str
) -> tuple[pd.DataFrame, Counter, list[int]]:
    """One staging row per receipt record, the chunk's counts and its rejected case ids."""
    accepted = d["receipt_status"] == "A"
    status = d["case_status"]
    register = accepted & (status == "sent")
    late = accepted & ~status.isin(("sent", "registered"))
    reject = ~accepted & status.isin(("sent", "registered"))
    reject_late = ~accepted & ~status.isin(("sent", "registered"))
    reason = (
        d["reason_code"].fillna("").astype(str).str.strip()
        + ": "
        + d["reason_text"].fillna("").astype(str).str.strip()
    ).str.strip(": ")
    reason = mask_series(reason)  # the agency's free text: kept with national ids masked
    detail = pd.Series("", index=d.index, dtype=object)
    detail[register] = "agency reference " + d["agency_case_ref"] + f" ({file_name})"
    detail[late] = (
        "receipt after the case was closed as "
        + status
        + "; agency reference "
        + d["agency_case_ref"]
        + f" ({file_name})"
    )
    detail[reject] = (
        "rejected by the agency: " + reason + "; invoice back to open, for a person to decide"
    )
    detail[reject_late] = "rejection ignored, the case is already " + status + ": " + reason
    kinds = pd.Series(None, index=d.index, dtype=object)
    kinds[register], kinds[late] = "registered", "receipt_after_closure"
    kinds[reject], kinds[reject_late] = "rejected", "rejection_ignored"
    stage = pd.DataFrame(
        {
            "seq": np.arange(seq0, seq0 + len(d), dtype="int64"),
            "case_id": d["case_id"].astype("int64"),
            "invoice_id": d["invoice_id"].astype("Int64"),
            "changed": register | reject | (late & d["case_ref"].isna()),
            "new_status": status.where(~register, "registered").where(~reject, "rejected"),
            "ref": _ref(d),
            "reason": reason.where(reject, None),
            "is_open": ~reject & ~status.isin(FINAL_STATUSES),
            "reopen": reject,
            "kind": kinds,
            "detail": mask_series(detail),  # it quotes the agency's text: ids masked
        }
    )
    counts = Counter(
        registered=int(register.sum()),
        rejected=int(reject.sum()),
        already_registered=int((accepted & (status == "registered")).sum()),
        receipt_after_closure=int(late.sum()),
        rejection_ignored=int(reject_late.sum()),
    )
    return stage, counts, [int(c) for c in d.loc[reject, "case_id"].head(100)]


def apply_receipt(
    conn, chunks: pd.DataFrame | Iterable[pd.DataFrame], file_id: int, file_name: str, now
) -> dict:
    """Apply a checked receipt (frames from ``check_details``, one or chunk by chunk) set-based;
    returns counts for the summary."""
    bulk_session(conn)
    table = stage_table(conn, RECEIPT_STAGE, RECEIPT_COLUMNS)
    counts, rejected, seq = Counter(), [], 0
    for d in _frames(chunks):
        if d.empty:
            continue
        stage, chunk_counts, chunk_rejected = _receipt_stage(d, seq, file_name)
        load(conn, table, stage, RECEIPT_COLUMNS)
        counts.update(chunk_counts)
        rejected += chunk_rejected[: 100 - len(rejected)]
        seq += len(d)
    conn.execute(_sql(RECEIPT_UPDATE_CASES))
    conn.execute(query("erp/reopen_rejected_invoices"))
    conn.execute(_sql(RECEIPT_EVENTS), {"now": now, "file_id": file_id})
    table.drop(conn)
    keys = ("registered", "rejected", "already_registered", "receipt_after_closure")
    return {k: counts[k] for k in (*keys, "rejection_ignored")} | {"rejected_cases": rejected}


RECEIPT_UPDATE_CASES = f"""
UPDATE ink_case SET status = s.new_status, agency_case_ref = s.ref,
       rejection_reason = s.reason, is_open = s.is_open
FROM {RECEIPT_STAGE} s
WHERE ink_case.case_id = s.case_id AND s.changed"""
RECEIPT_EVENTS = f"""
INSERT INTO ink_case_event (case_id, at, kind, detail, file_id)
SELECT s.case_id, :now, s.kind, s.detail, :file_id
FROM {RECEIPT_STAGE} s WHERE s.kind IS NOT NULL ORDER BY s.seq"""


def _closure_stage(d: pd.DataFrame, seq0: int, settle: bool) -> tuple[pd.DataFrame, Counter]:
    """One staging row per closure record and the chunk's counts (money in integer øre)."""
    # money as nullable integers: a blank amount or a case never closed before is <NA>, so no
    # column of øre ever turns into float64 on its way to the database
    money = ["collected_amount", "remaining_amount", "case_collected", "sent_amount"]
    d = d.astype({c: "Int64" for c in money if c in d})
    is_open = d["case_status"].isin(OPEN_STATUSES)
    before_receipt = is_open & (d["case_status"] == "sent")
    increase = d["collected_amount"] - d["case_collected"].fillna(0)
    # a closed case whose collected amount went up: the agency collected after closing it
    late = (d["case_status"].isin(ENDED_STATUSES) & (increase > 0).fillna(False)).astype(bool)
    live = is_open | late  # the rows that write the case and its money
    # what the agency collected since the case's previous closure record
    delta = increase.where(live)
    # settlement mode books the whole amount on the invoice (the agency holds it)
    settled = delta.clip(lower=0).fillna(0) if settle else pd.Series(0, index=d.index)
    settled = settled.astype("int64")
    stage = pd.DataFrame(
        {
            "seq": np.arange(seq0, seq0 + len(d), dtype="int64"),
            "case_id": d["case_id"].astype("int64"),
            "invoice_id": d["invoice_id"].astype("Int64"),
            "live": live,
            # a closed case stays closed: a partly_paid code after closing keeps its status
            "new_status": d["status"].where(
                ~late | (d["status"] != "partly_paid"), d["case_status"]
            ),
            "ref": _ref(d),
            "is_open": is_open & (d["status"] == "partly_paid"),
            "collected": d["collected_amount"],
            "remaining": d["remaining_amount"],
            "closure_date": d["closure_date"],
            "delta": delta,
            "settled": settled,
            "kind": d["status"]
            .where(is_open, "closure_ignored")
            .where(~late, "collected_after_closure"),
            "case_status": d["case_status"].astype(str),
            "late": late,
        }
    )
    final = is_open & (d["status"] != "partly_paid")
    todo = d[is_open]
    counts = Counter({f"closure:{k}": int(v) for k, v in todo["status"].value_counts().items()})
    counts.update(
        closure_before_receipt=int(before_receipt.sum()),
        collected_after_closure=int(late.sum()),
        closure_ignored=int((~live).sum()),
        left_unpaid=int((final & (d["remaining_amount"] > 0)).sum()),
        collected=int(todo["collected_amount"].sum()),
        settled=int(settled.sum()),
    )
    return stage, counts


def apply_closure(
    conn,
    chunks: pd.DataFrame | Iterable[pd.DataFrame],
    agreement: Agreement,
    file_id: int,
    file_name: str,
    now: datetime,
) -> dict:
    """Apply a checked closure file (frames from ``check_details``, one or chunk by chunk)
    set-based; returns counts for the summary."""
    bulk_session(conn)
    table = stage_table(conn, CLOSURE_STAGE, CLOSURE_COLUMNS)
    settle = agreement.booking_mode == "settlement"
    counts, seq = Counter(), 0
    for d in _frames(chunks):
        if d.empty:
            continue
        stage, chunk_counts = _closure_stage(d, seq, settle)
        load(conn, table, stage, CLOSURE_COLUMNS)
        counts.update(chunk_counts)
        seq += len(d)
    params = {
        "client_id": agreement.client_id,
        "agreement_id": agreement.agreement_id,
        "agency": agreement.agency,
        "interim_account": agreement.interim_account,
        "receivables_account": RECEIVABLES_ACCOUNT,
        "file_id": file_id,
        "file_name": file_name,
        "now": now,
    }
    conn.execute(_sql(CLOSURE_UPDATE_CASES))
    if settle and counts["settled"]:
        for name in ("settle_closures", "insert_settlement_lines", "insert_settlement_payments"):
            conn.execute(_typed(query(f"erp/{name}")), params)
    conn.execute(_sql(CLOSURE_COLLECTIONS), params)
    conn.execute(query("erp/update_ended_invoice_status"), params | {"no": False})
    conn.execute(_sql(CLOSURE_EVENTS), params)
    table.drop(conn)
    statuses = sorted(k for k in counts if k.startswith("closure:"))
    keys = (
        "closure_before_receipt",
        "collected_after_closure",
        "closure_ignored",
        "left_unpaid",
        "collected",
        "settled",
    )
    return {"closures": {k.split(":", 1)[1]: counts[k] for k in statuses}} | {
        k: counts[k] for k in keys
    }


CLOSURE_UPDATE_CASES = f"""
UPDATE ink_case SET status = s.new_status, agency_case_ref = s.ref, is_open = s.is_open,
       collected_amount = s.collected, closed_remaining_amount = s.remaining,
       closed_date = s.closure_date
FROM {CLOSURE_STAGE} s
WHERE ink_case.case_id = s.case_id AND s.live
  -- a row whose values are already these is not written again (no new version, no index entry)
  AND (ink_case.status IS DISTINCT FROM s.new_status OR ink_case.is_open IS DISTINCT FROM s.is_open
       OR ink_case.agency_case_ref IS DISTINCT FROM s.ref
       OR ink_case.collected_amount IS DISTINCT FROM s.collected
       OR ink_case.closed_remaining_amount IS DISTINCT FROM s.remaining
       OR ink_case.closed_date IS DISTINCT FROM s.closure_date)"""
# one ``ink_collection`` row per case whose collected amount changed in this file: the
# settlement a payout must match
CLOSURE_COLLECTIONS = f"""
INSERT INTO ink_collection (agreement_id, case_id, invoice_id, file_id, closure_date, amount,
                            booked_amount, created_at)
SELECT :agreement_id, s.case_id, s.invoice_id, :file_id, s.closure_date, s.delta, s.settled, :now
FROM {CLOSURE_STAGE} s WHERE s.live AND s.delta <> 0 ORDER BY s.seq"""
# the event's text is written by the database, not built per row in Python: an amount the
# file left blank reads <NA>, as pandas writes it. The text is for people; the totals the record
# gave the case are also in the event's integer columns (NULL on an ignored closure), where
# the report reads a day's closure amounts (report.history)
CLOSURE_EVENTS = f"""
INSERT INTO ink_case_event (case_id, at, kind, detail, file_id, collected_amount,
                            remaining_amount)
SELECT s.case_id, :now, s.kind,
       CASE WHEN NOT s.live THEN 'closure ignored, the case is already ' || s.case_status
       ELSE CASE WHEN s.late THEN 'after the case was closed as ' || s.case_status || ': '
                 ELSE '' END
            || 'collected ' || COALESCE(CAST(s.collected AS VARCHAR(20)), '<NA>')
            || ', remaining ' || COALESCE(CAST(s.remaining AS VARCHAR(20)), '<NA>')
            || ', closed ' || CAST(s.closure_date AS VARCHAR(10)) || ' (' || :file_name || ')'
            || CASE WHEN s.case_status = 'sent'
                    THEN '; closure arrived before the receipt' ELSE '' END
            || CASE WHEN s.settled <> 0
                    THEN '; settled ' || CAST(s.settled AS VARCHAR(20)) || ' on invoice'
                    ELSE '' END
       END,
       :file_id,
       CASE WHEN s.live THEN s.collected END,
       CASE WHEN s.live THEN s.remaining END
FROM {CLOSURE_STAGE} s ORDER BY s.seq"""
