"""Reading from and writing to the ERP through the queries in ``include/sql/erp/`` (the ERP contract).

Reads come back as chunked pandas frames; writes are one statement per set (or one executemany
per batch), never a statement per invoice in a Python loop of round trips.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
from sqlalchemy import Column, Connection, Date, DateTime, Integer, MetaData, String, Table, text

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


def read_marked_invoices(
    conn: Connection, client_id: int, cutoff: datetime, chunk: int = READ_CHUNK
) -> Iterator[pd.DataFrame]:
    """The invoices of ``client_id`` marked for collection before ``cutoff``, as frames of about
    ``chunk`` rows that never split a customer (the query orders by customer), so rules over a
    customer's invoices (the minimum amount) see them all in one frame.

    PostgreSQL reads through a server-side cursor, so only a chunk is held at a time and other
    statements can run on ``conn`` between chunks (same transaction, the snapshot of the read).
    """
    result = conn.execute(
        query("erp/select_marked_invoices").execution_options(
            stream_results=True, max_row_buffer=chunk
        ),
        {"client_id": client_id, "cutoff": cutoff, "yes": True, "no": False},
    )
    columns = list(result.keys())
    carry: list = []  # the last customer's rows of the previous fetch
    try:
        while True:
            rows = result.fetchmany(chunk)
            if not rows:
                break
            rows = carry + rows
            last = rows[-1][1]  # customer_id, the second column of the query
            cut = len(rows)
            while cut > 0 and rows[cut - 1][1] == last:
                cut -= 1
            if cut == 0:  # one customer fills the whole fetch: keep reading
                carry = rows
                continue
            carry = rows[cut:]
            yield _typed(pd.DataFrame.from_records(rows[:cut], columns=columns))
        if carry:
            yield _typed(pd.DataFrame.from_records(carry, columns=columns))
    finally:
        result.close()


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
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


def copy_rows(conn: Connection, table: Table, frame: pd.DataFrame) -> None:
    """Append ``frame`` (columns named as ``table``'s) to ``table`` in the caller's transaction.

    PostgreSQL (psycopg2): one ``COPY ... FROM STDIN`` of the frame as CSV, written by pandas'
    C writer. Elsewhere one ``executemany`` of plain tuples (the SQLite floor's own way).
    """
    if frame.empty:
        return
    columns = list(frame.columns)
    if conn.dialect.driver == "psycopg2":
        buf = io.StringIO()
        frame.to_csv(buf, header=False, index=False, na_rep=_NULL, date_format="%Y-%m-%d")
        buf.seek(0)
        names = ", ".join(f'"{c}"' for c in columns)
        with conn.connection.dbapi_connection.cursor() as cur:
            cur.copy_expert(
                f"COPY \"{table.name}\" ({names}) FROM STDIN WITH (FORMAT csv, NULL '{_NULL}')",
                buf,
            )
        return
    frame = frame.astype(object).where(frame.notna(), None)
    for col in columns:  # sqlite3 binds no date subclasses (pendulum): the text SQLAlchemy stores
        if isinstance(table.c[col].type, Date) and not isinstance(table.c[col].type, DateTime):
            frame[col] = [None if v is None else date.isoformat(v) for v in frame[col]]
    rows = frame.itertuples(index=False, name=None)
    conn.exec_driver_sql(
        f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))})',
        list(rows),
    )


_NULL = "\\N"  # COPY's null marker: a value that is a backslash and N is not expected in the ERP

ADDRESS_STAGE = Table(
    "ink_stage_address",
    MetaData(),
    Column("id", Integer, primary_key=True),
    Column("street", String(100)),
    Column("postcode", String(10)),
    Column("city", String(50)),
    prefixes=["TEMPORARY"],
)


def create_address_stage(conn: Connection) -> None:
    """The temporary table the address updates are staged in (this connection, this run)."""
    conn.execute(text("DROP TABLE IF EXISTS ink_stage_address"))
    ADDRESS_STAGE.create(conn)


def drop_address_stage(conn: Connection) -> None:
    """Drop the address stage again (SQLite keeps temporary tables for the connection's life)."""
    ADDRESS_STAGE.drop(conn)


def _update_addresses(conn: Connection, sql_name: str, updates: pd.DataFrame, key: str) -> None:
    """Load ``updates`` into the stage (COPY / executemany), then one UPDATE ... FROM."""
    if updates.empty:
        return
    copy_rows(conn, ADDRESS_STAGE, updates.rename(columns={key: "id"})[["id", *ADDRESS]])
    conn.execute(query(sql_name))
    conn.execute(ADDRESS_STAGE.delete())


def update_invoice_addresses(conn: Connection, updates: pd.DataFrame) -> None:
    """Write the addresses cases were sent with onto their invoices (set-based; needs the stage)."""
    _update_addresses(conn, "erp/update_invoice_address", updates, "invoice_id")


def update_customer_addresses(conn: Connection, updates: pd.DataFrame) -> None:
    """Write register addresses onto customers' postal addresses (set-based; needs the stage)."""
    _update_addresses(conn, "erp/update_customer_postal_address", updates, "customer_id")
