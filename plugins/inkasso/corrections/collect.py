"""Collecting the corrections: the agreement's unreported direct payments, credit notes and
recalls into ``ink_correction`` (set-based ``INSERT ... SELECT``), and reading a file's back."""

from __future__ import annotations

from datetime import date, datetime

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Connection,
    Date,
    DateTime,
    Integer,
    String,
    case,
    column,
    insert,
    literal,
    select,
)

from inkasso.db.schema import ink_correction
from inkasso.sql import query

READ_CHUNK = 50_000
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
    stamp = literal(now, DateTime(timezone=True))
    file_ref = literal(file_id, Integer)
    payments = _direct_payments()
    adjustments = _adjustments()
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


def _direct_payments():
    """The unreported direct payments on the agreement's open cases (a subquery)."""
    return (
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


def _adjustments():
    """The unreported credit notes and recalls on the agreement's open cases (a subquery)."""
    return (
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
