"""Recording one bank file's payments in the ERP: staged in bulk, matched and inserted set-based.

The payments frame is loaded into a temporary table (PostgreSQL: COPY; SQLite: one executemany),
then one ``INSERT ... SELECT`` records every payment in ``erp_payment`` matched to the client's
invoices by KID / OCR reference, and one ``UPDATE ... FROM`` lowers the paid invoices' remaining
amounts. No statement per payment or per invoice. A file read in chunks is staged chunk by chunk
(`begin_stage`, `append_stage`) and booked once at the end (`book_staged`), in one transaction.
"""

from __future__ import annotations

import io
import re
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, text

from inkasso.sql import query

STAGE = "ink_bank_payment_stage"
STAGE_COLUMNS = (
    "line",
    "payment_ref",
    "payer_account",
    "reference",
    "amount",
    "payment_date",
    "payout_agreement_id",
)
_NOT_DIGIT = re.compile(r"\D")


def account_key(account: str | None) -> str:
    """An account number compared without separators and leading zeros ('0005841-0' -> '58410')."""
    return _NOT_DIGIT.sub("", account or "").lstrip("0")


def mark_payouts(payments: pd.DataFrame, agency_accounts: dict[str, str]) -> pd.Series:
    """Per payment, the agreement whose agency account paid it (None for everyone else).

    ``agency_accounts`` maps an agreement id to its ``agency_bank_account``.
    """
    by_key = {account_key(acc): agreement for agreement, acc in agency_accounts.items() if acc}
    keys = payments["payer_account"].map(account_key)
    return keys.map(by_key).where(keys != "", None).astype(object)


def begin_stage(conn: Connection) -> None:
    """(Re)create the empty staging table for one file's payments, in the caller's transaction."""
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    conn.execute(query("erp/create_bank_payment_stage"))


def append_stage(conn: Connection, payments: pd.DataFrame, payouts: pd.Series) -> None:
    """Load some of a file's payments (one chunk, or all of them) into the staging table."""
    frame = payments.assign(payout_agreement_id=payouts)[list(STAGE_COLUMNS)]
    if frame.empty:
        return
    if conn.dialect.name == "postgresql" and conn.dialect.driver == "psycopg2":
        buffer = io.StringIO()
        frame.to_csv(buffer, header=False, index=False)
        buffer.seek(0)
        cursor = conn.connection.dbapi_connection.cursor()
        try:
            cursor.copy_expert(
                f"COPY {STAGE} ({', '.join(STAGE_COLUMNS)}) FROM STDIN WITH (FORMAT csv, "
                "FORCE_NOT_NULL (payment_ref, payer_account, reference))",
                buffer,
            )
        finally:
            cursor.close()
        return
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    columns = ", ".join(STAGE_COLUMNS)
    values = ", ".join(f":{c}" for c in STAGE_COLUMNS)
    conn.execute(text(f"INSERT INTO {STAGE} ({columns}) VALUES ({values})"), rows)


def stage_payments(conn: Connection, payments: pd.DataFrame, payouts: pd.Series) -> None:
    """(Re)create the staging table and load the file's payments into it."""
    begin_stage(conn)
    append_stage(conn, payments, payouts)


def record_payments(
    conn: Connection,
    client_id: int,
    bank_file: str,
    payments: pd.DataFrame,
    agency_accounts: dict[str, str],
    booked_at: datetime,
) -> dict[str, int]:
    """Record the payments of one file in ``erp_payment`` and apply the direct ones to invoices.

    Runs in the caller's transaction. Returns counts: payments per kind (``collection``: a
    bank-mode agency paying an invoice by its KID), direct ones on invoices at collection,
    invoices changed.
    """
    stage_payments(conn, payments, mark_payouts(payments, agency_accounts))
    return book_staged(conn, client_id, bank_file, booked_at)


def book_staged(
    conn: Connection, client_id: int, bank_file: str, booked_at: datetime
) -> dict[str, int]:
    """Book every payment staged for one file, set-based and once (counts as `record_payments`).

    Called once per file after all its chunks are staged: applying the payments sums them per
    invoice over the whole file, so it must not run per chunk.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {STAGE}"))  # a fresh temp table has no statistics
    params = {"client_id": client_id, "bank_file": bank_file}
    conn.execute(query("erp/insert_bank_payments"), params | {"booked_at": booked_at})
    changed = conn.execute(query("erp/apply_direct_payments"), params).rowcount
    # an invoice whose case has ended moves on (payout_pending -> paid, ...) as money arrives
    conn.execute(query("erp/update_ended_invoice_status"), {"client_id": client_id, "no": False})
    summary = conn.execute(query("erp/summarize_bank_payments"), params).mappings().all()
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))
    counts = {
        "direct": 0,
        "direct_at_collection": 0,
        "unmatched": 0,
        "agency_payout": 0,
        "collection": 0,
    }
    for row in summary:
        counts[row["kind"]] = counts.get(row["kind"], 0) + int(row["payments"])
        if row["kind"] == "direct" and row["invoice_status"] == "at_collection":
            counts["direct_at_collection"] += int(row["payments"])
    return counts | {"invoices_changed": int(changed)}
