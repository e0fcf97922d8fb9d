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
  * case already closed or rejected → nothing changes (event ``closure_ignored``).
  * what the agency collected since the case's previous closure record (the change in its
    collected amount) is one ``ink_collection`` row: the settlement that a payout must match;
  * in ``settlement`` booking mode that amount is also booked on the invoice (remaining down, never
    below zero: more is an over-payment the report lists) as a payment with method
    ``collection`` (``erp_payment`` kind ``agency_settlement``) and two journal lines: debit the
    interim account (default 1684, a short-term claim on the agency), credit receivables 1500,
    ``source_ref`` ``closure:<file_id>:<case_id>`` (never booked twice). In ``bank`` mode the
    ledger is left to the bank import, which books the agency's payout by the invoice's KID;
  * an invoice whose case ended leaves *at collection*: ``paid`` (``credited`` after a recall)
    with nothing left, ``payout_pending`` while the agency's payout is on its way,
    ``collection_ended`` with money still owed, for a person to decide
    (``include/sql/erp/update_ended_invoice_status.sql``).
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import and_, case, select, update

from inkasso.db.schema import (
    erp_invoice,
    erp_journal_line,
    erp_payment,
    ink_case,
    ink_case_event,
    ink_collection,
)
from inkasso.inbound.agreements import RECEIVABLES_ACCOUNT, InboundAgreement
from inkasso.inbound.staging import bulk_insert, records, staged
from inkasso.inbound.validate import FINAL_STATUSES
from inkasso.masking import mask_series
from inkasso.sql import query

OPEN_STATUSES = ("sent", "registered", "partly_paid")
CASE_STAGE = {
    "case_id": "id",
    "status": "str",
    "agency_case_ref": "str",
    "rejection_reason": "str",
    "is_open": "bool",
    "collected_amount": "int",
    "closed_remaining_amount": "int",
    "closed_date": "date",
    "reopen_invoice": "bool",
}


def _events(d: pd.DataFrame, kind, detail: pd.Series, file_id: int, now: datetime) -> list[dict]:
    kinds = kind if isinstance(kind, pd.Series) else pd.Series(kind, index=d.index)
    detail = mask_series(detail.astype(object))  # it quotes the agency's text: ids masked
    return [
        {"case_id": int(c), "at": now, "kind": k, "detail": t, "file_id": file_id}
        for c, k, t in zip(d["case_id"], kinds[d.index], detail[d.index], strict=True)
    ]


def _update_cases(conn, changes: pd.DataFrame, columns: list[str]) -> None:
    """One UPDATE ... FROM a staging table for every changed case."""
    if changes.empty:
        return
    for col in CASE_STAGE:
        if col not in changes:
            changes[col] = None
    with staged(conn, "tmp_inbound_case", changes, CASE_STAGE) as s:
        conn.execute(
            update(ink_case)
            .where(ink_case.c.case_id == s.c.case_id)
            .values({c: s.c[c] for c in columns})
        )
        if changes["reopen_invoice"].fillna(False).astype(bool).any():
            ids = select(ink_case.c.invoice_id).where(
                ink_case.c.case_id.in_(select(s.c.case_id).where(s.c.reopen_invoice.is_(True)))
            )
            conn.execute(
                update(erp_invoice)
                .where(
                    and_(
                        erp_invoice.c.invoice_id.in_(ids),
                        erp_invoice.c.status == "at_collection",
                    )
                )
                .values(status="open", marked_for_collection=False)
            )


def apply_receipt(conn, d: pd.DataFrame, file_id: int, file_name: str, now: datetime) -> dict:
    """Apply a checked receipt (``d`` from ``check_details``); returns counts for the summary."""
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
    changes = pd.DataFrame(
        {
            "case_id": d["case_id"],
            "status": status.where(~register, "registered").where(~reject, "rejected"),
            "agency_case_ref": d["case_ref"].where(d["case_ref"].notna(), d["agency_case_ref"]),
            "rejection_reason": reason.where(reject, None),
            "is_open": ~reject & ~status.isin(FINAL_STATUSES),
            "reopen_invoice": reject,
        }
    )
    changed = register | reject | (late & d["case_ref"].isna())
    _update_cases(
        conn,
        changes[changed].copy(),
        ["status", "agency_case_ref", "rejection_reason", "is_open"],
    )
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
    events = d[kinds.notna()]
    if len(events):
        bulk_insert(conn, ink_case_event, _events(events, kinds, detail, file_id, now))
    return {
        "registered": int(register.sum()),
        "rejected": int(reject.sum()),
        "already_registered": int((accepted & (status == "registered")).sum()),
        "receipt_after_closure": int(late.sum()),
        "rejection_ignored": int(reject_late.sum()),
        "rejected_cases": [int(c) for c in d.loc[reject, "case_id"].head(100)],
    }


def apply_closure(
    conn,
    d: pd.DataFrame,
    agreement: InboundAgreement,
    file_id: int,
    file_name: str,
    now: datetime,
) -> dict:
    """Apply a checked closure file (``d`` from ``check_details``); returns counts for the summary."""
    # money as nullable integers: a blank amount or a case never closed before is <NA>, so no
    # column of øre ever turns into float64 on its way to the database
    money = ["collected_amount", "remaining_amount", "case_collected", "sent_amount"]
    d = d.astype({c: "Int64" for c in money if c in d})
    live = d["case_status"].isin(OPEN_STATUSES)
    before_receipt = live & (d["case_status"] == "sent")
    todo = d[live]
    changes = pd.DataFrame(
        {
            "case_id": todo["case_id"],
            "status": todo["status"],
            "agency_case_ref": todo["case_ref"].where(
                todo["case_ref"].notna(), todo["agency_case_ref"]
            ),
            "is_open": todo["status"] == "partly_paid",
            "collected_amount": todo["collected_amount"],
            "closed_remaining_amount": todo["remaining_amount"],
            "closed_date": todo["closure_date"],
        }
    )
    _update_cases(
        conn,
        changes,
        [
            "status",
            "agency_case_ref",
            "is_open",
            "collected_amount",
            "closed_remaining_amount",
            "closed_date",
        ],
    )
    settled = pd.Series(0, index=d.index, dtype="int64")
    if agreement.booking_mode == "settlement" and len(todo):
        settled[todo.index] = _settle(conn, todo, agreement, file_id, file_name, now)
    _record_collections(conn, todo, settled, agreement, file_id, now)
    conn.execute(
        query("erp/update_ended_invoice_status"), {"client_id": agreement.client_id, "no": False}
    )
    detail = (
        "collected "
        + d["collected_amount"].astype(str)
        + ", remaining "
        + d["remaining_amount"].astype(str)
        + ", closed "
        + d["closure_date"].astype(str)
        + f" ({file_name})"
    )
    detail = detail.where(~before_receipt, detail + "; closure arrived before the receipt")
    detail = detail.where(settled == 0, detail + "; settled " + settled.astype(str) + " on invoice")
    detail = detail.where(
        live, "closure ignored, the case is already " + d["case_status"].astype(str)
    )
    kinds = d["status"].where(live, "closure_ignored")
    bulk_insert(conn, ink_case_event, _events(d, kinds, detail, file_id, now))
    final = live & (d["status"] != "partly_paid")
    counts = todo["status"].value_counts()
    return {
        "closures": {str(k): int(v) for k, v in counts.sort_index().items()},
        "closure_before_receipt": int(before_receipt.sum()),
        "closure_ignored": int((~live).sum()),
        "left_unpaid": int((final & (d["remaining_amount"] > 0)).sum()),
        "collected": int(todo["collected_amount"].sum()),
        "settled": int(settled.sum()),
    }


def _collected_delta(todo: pd.DataFrame) -> pd.Series:
    """What the agency collected since the case's previous closure record, per row (øre)."""
    before = todo["case_collected"].astype("Int64").fillna(0)
    return (todo["collected_amount"].astype("Int64") - before).astype("int64")


def _record_collections(conn, todo, settled, agreement, file_id: int, now: datetime) -> None:
    """One ``ink_collection`` row per case whose collected amount changed in this file."""
    delta = _collected_delta(todo)
    rows = todo[delta != 0]
    if rows.empty:
        return
    frame = pd.DataFrame(
        {
            "agreement_id": agreement.agreement_id,
            "case_id": rows["case_id"].astype("int64"),
            "invoice_id": rows["invoice_id"].astype("int64"),
            "file_id": file_id,
            "closure_date": rows["closure_date"],
            "amount": delta[rows.index],
            "booked_amount": settled[rows.index].astype("int64"),
            "created_at": now,
        }
    )
    bulk_insert(conn, ink_collection, records(frame))


def _settle(
    conn,
    todo: pd.DataFrame,
    agreement: InboundAgreement,
    file_id: int,
    file_name: str,
    now: datetime,
) -> pd.Series:
    """Book what was collected since the last closure on each invoice; returns øre per row.

    The whole amount is booked (the agency holds it): where it is more than the invoice still
    had open, the remaining amount stops at zero and the rest is an over-payment to refund.
    """
    delta = _collected_delta(todo)
    work = pd.DataFrame({"invoice_id": todo["invoice_id"].astype("int64"), "delta": delta})
    work = work[work["delta"] > 0]
    if work.empty:
        return pd.Series(0, index=todo.index, dtype="int64")
    with staged(conn, "tmp_inbound_settle", work, {"invoice_id": "id", "delta": "int"}) as s:
        current = pd.DataFrame(
            conn.execute(
                select(erp_invoice.c.invoice_id, erp_invoice.c.remaining_amount).join(
                    s, s.c.invoice_id == erp_invoice.c.invoice_id
                )
            ).all(),
            columns=["invoice_id", "remaining"],
        )
    work = work.reset_index().merge(current, on="invoice_id", how="left").set_index("index")
    work["amount"] = work["delta"].astype("int64")
    work["new_remaining"] = (work["remaining"] - work["amount"]).clip(lower=0).astype("int64")
    work = work[work["amount"] > 0]
    if work.empty:
        return pd.Series(0, index=todo.index, dtype="int64")
    stage = {"invoice_id": "id", "new_remaining": "int"}
    with staged(conn, "tmp_inbound_settle", work, stage) as s:
        conn.execute(
            update(erp_invoice)
            .where(erp_invoice.c.invoice_id == s.c.invoice_id)
            .values(
                remaining_amount=s.c.new_remaining,
                status=case((s.c.new_remaining == 0, "paid"), else_=erp_invoice.c.status),
            )
        )
    rows = todo.loc[work.index]
    books = pd.DataFrame(
        {
            "invoice_id": work["invoice_id"],
            "amount": work["amount"],
            "case_id": rows["case_id"],
            "ref": rows["case_ref"].where(rows["case_ref"].notna(), rows["agency_case_ref"]),
            "date": rows["closure_date"],
            "status": rows["status"],
        }
    )
    lines, payments = [], []
    for b in records(books):
        source = f"closure:{file_id}:{b['case_id']}"
        text = f"{agreement.agency} {b['status']} case {b['case_id']} ({file_name})"[:200]
        common = {
            "client_id": agreement.client_id,
            "journal_date": b["date"],
            "text": text,
            "invoice_id": b["invoice_id"],
            "source_ref": source,
        }
        lines.append(common | {"account": agreement.interim_account, "debit": b["amount"]})
        lines.append(common | {"account": RECEIVABLES_ACCOUNT, "credit": b["amount"]})
        payments.append(
            {
                "client_id": agreement.client_id,
                "invoice_id": b["invoice_id"],
                "bank_file": file_name,
                "payment_ref": f"case:{b['case_id']}",
                "reference": str(b["ref"] or "")[:30],
                "amount": b["amount"],
                "payment_date": b["date"],
                "kind": "agency_settlement",
                "method": "collection",
                "booked_at": now,
            }
        )
    for line in lines:
        line.setdefault("debit", 0)
        line.setdefault("credit", 0)
    bulk_insert(conn, erp_journal_line, lines)
    bulk_insert(conn, erp_payment, payments)
    out = pd.Series(0, index=todo.index, dtype="int64")
    out[work.index] = work["amount"]
    return out
