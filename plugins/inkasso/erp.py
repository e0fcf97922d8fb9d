"""Reading from and writing to the ERP through the queries in ``include/sql/erp/`` (the ERP contract).

Reads come back as chunked pandas frames; writes are one statement per set (or one executemany
per batch), never a statement per invoice in a Python loop of round trips.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
from sqlalchemy import Column, Connection, Integer, MetaData, String, Table, insert

from inkasso.rules import ClientSettings
from inkasso.sql import query

READ_CHUNK = 50_000
ADDRESS = ["street", "postcode", "city"]
_BOOL_COLUMNS = ["disputed", "addr_changed_manually", "is_organisation"]
_DATE_COLUMNS = ["invoice_date", "due_date"]
_INT_COLUMNS = ["original_amount", "remaining_amount", "reminder_count"]


def read_client(conn: Connection, client_id: int) -> ClientSettings:
    """The client's collection settings."""
    row = conn.execute(query("erp/select_client"), {"client_id": client_id}).mappings().one()
    return ClientSettings(
        client_id=row["client_id"],
        min_collection_amount=int(row["min_collection_amount"]),
        register_lookup=bool(row["register_lookup"]),
    )


def read_client_row(conn: Connection, client_id: int) -> dict:
    """The client's row as a dict (name, org number, currency, settings)."""
    return dict(conn.execute(query("erp/select_client"), {"client_id": client_id}).mappings().one())


def read_marked_invoices(conn: Connection, client_id: int, cutoff: datetime) -> pd.DataFrame:
    """All invoices of ``client_id`` marked for collection before ``cutoff``, in chunks of 50 000."""
    chunks = pd.read_sql(
        query("erp/select_marked_invoices"),
        conn,
        params={"client_id": client_id, "cutoff": cutoff, "yes": True, "no": False},
        chunksize=READ_CHUNK,
    )
    frame = pd.concat(list(chunks), ignore_index=True)
    for col in _BOOL_COLUMNS:
        frame[col] = frame[col].fillna(False).astype(bool)
    for col in _DATE_COLUMNS:
        frame[col] = pd.to_datetime(frame[col]).dt.date
    for col in _INT_COLUMNS:
        frame[col] = frame[col].astype("int64")
    return frame


def _records(frame: pd.DataFrame) -> list[dict]:
    return frame.astype(object).where(frame.notna(), None).to_dict("records")


def set_invoices_at_collection(conn: Connection, file_id: int) -> int:
    """Put the invoices of the cases opened by ``file_id`` at collection; returns rows changed."""
    return conn.execute(
        query("erp/set_invoices_at_collection"), {"file_id": file_id, "no": False}
    ).rowcount


_STAGE = Table(
    "ink_stage_address",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("street", String(100)),
    Column("postcode", String(10)),
    Column("city", String(50)),
    prefixes=["TEMPORARY"],
)


def _update_addresses(conn: Connection, sql_name: str, updates: pd.DataFrame, key: str) -> None:
    """Load ``updates`` into a temporary table (multi-row inserts), then one UPDATE ... FROM."""
    if updates.empty:
        return
    _STAGE.create(conn, checkfirst=True)
    conn.execute(_STAGE.delete())
    conn.execute(insert(_STAGE), _records(updates.rename(columns={key: "id"})[["id", *ADDRESS]]))
    conn.execute(query(sql_name))
    _STAGE.drop(conn)


def update_invoice_addresses(conn: Connection, updates: pd.DataFrame) -> None:
    """Write the addresses cases were sent with onto their invoices (set-based)."""
    _update_addresses(conn, "erp/update_invoice_address", updates, "invoice_id")


def update_customer_addresses(conn: Connection, updates: pd.DataFrame) -> None:
    """Write register addresses onto customers' postal addresses (set-based)."""
    _update_addresses(conn, "erp/update_customer_postal_address", updates, "customer_id")
