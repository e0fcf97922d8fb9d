"""Opening a chunk's cases set-based: staged, one ``INSERT ... SELECT ... RETURNING``, one
history event each."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    insert,
    literal,
    select,
    true,
)

from inkasso.db.schema import ink_case, ink_case_event
from inkasso.dispatch import erp

CASE_STAGE = Table(
    "ink_stage_case",
    MetaData(),
    Column("invoice_id", Integer, primary_key=True),  # the events' join looks cases up by it
    Column("seq", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Column("original_amount", BigInteger, nullable=False),
    Column("sent_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("address_rule", String(30), nullable=False),
    prefixes=["TEMPORARY"],
)


@dataclass(frozen=True)
class CaseFile:
    """The file the cases are opened in: its log row, name, day, and the cases' ``opened_at``
    (the run's time, or later: `inkasso.stamps`)."""

    agreement_id: str
    file_id: int
    file_name: str
    business_date: date
    opened_at: datetime


def open_cases(conn, cases: pd.DataFrame, seq: int, into: CaseFile) -> pd.DataFrame:
    """Stage the chunk's cases (numbered from ``seq``), open them set-based with an ``opened``
    event each; returns their (case_id, invoice_id)."""
    n = len(cases)
    _stage_cases(conn, cases, seq)
    opened = _insert_cases(conn, into)
    if len(opened) != n:
        raise RuntimeError(f"{into.agreement_id}: {len(opened)} cases opened of {n}")
    _opened_events(conn, into, int(opened["case_id"].min()), int(opened["case_id"].max()))
    return opened


def _stage_cases(conn, cases: pd.DataFrame, seq: int) -> None:
    """The chunk's cases into the (emptied) stage, in file order."""
    stage = pd.DataFrame(
        {
            "seq": range(seq, seq + len(cases)),
            "invoice_id": cases["invoice_id"].astype("int64").to_numpy(),
            "customer_id": cases["customer_id"].astype("int64").to_numpy(),
            "original_amount": cases["original_amount"].astype("int64").to_numpy(),
            "sent_amount": cases["remaining_amount"].astype("int64").to_numpy(),
            "currency": cases["currency"].to_numpy(),
            "address_rule": cases["address_rule"].to_numpy(),
        }
    )
    conn.execute(CASE_STAGE.delete())
    erp.copy_rows(conn, CASE_STAGE, stage)


def _insert_cases(conn, into: CaseFile) -> pd.DataFrame:
    """One ``INSERT ... SELECT ... RETURNING`` from the stage; the (case_id, invoice_id) rows."""
    s = CASE_STAGE.c
    result = conn.execute(
        insert(ink_case)
        .from_select(
            [
                "agreement_id", "invoice_id", "customer_id", "file_id", "status", "is_open",
                "original_amount", "sent_amount", "currency", "business_date", "opened_at",
            ],
            select(
                literal(into.agreement_id, String),
                s.invoice_id,
                s.customer_id,
                literal(into.file_id, Integer),
                literal("sent", String),
                true(),
                s.original_amount,
                s.sent_amount,
                s.currency,
                literal(into.business_date, Date),
                literal(into.opened_at, DateTime(timezone=True)),
            ).order_by(s.seq),
        )
        .returning(ink_case.c.case_id, ink_case.c.invoice_id)
    )  # fmt: skip
    # plain int pairs into one array: a frame built from SQLAlchemy Row objects probes each row
    # for attributes and cost more than the INSERT's own Python side
    pairs = np.array([tuple(row) for row in result], dtype=np.int64).reshape(-1, 2)
    return pd.DataFrame(pairs, columns=["case_id", "invoice_id"])


def _opened_events(conn, into: CaseFile, first: int, last: int) -> None:
    """One ``opened`` event per case of the chunk, naming the file and the address rule."""
    s = CASE_STAGE.c
    detail = literal(f"sent in {into.file_name}; address: ", String) + s.address_rule
    conn.execute(
        insert(ink_case_event).from_select(
            ["case_id", "at", "kind", "file_id", "detail"],
            select(
                ink_case.c.case_id,
                literal(into.opened_at, DateTime(timezone=True)),
                literal("opened", String),
                ink_case.c.file_id,
                detail,
            )
            .select_from(CASE_STAGE.join(ink_case, ink_case.c.invoice_id == s.invoice_id))
            # the chunk's case ids: a range of the primary key, never the whole file so far
            .where(ink_case.c.case_id.between(first, last), ink_case.c.file_id == into.file_id)
            .order_by(ink_case.c.case_id),
        )
    )
