"""Reading from and writing to the ERP through the queries in ``include/sql/erp/`` (the ERP contract).

Reads come back as chunked pandas frames; writes are one statement per set (or one executemany
per batch), never a statement per invoice in a Python loop of round trips.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime

import pandas as pd
from sqlalchemy import (
    Column,
    Connection,
    Date,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    text,
)

from inkasso.dispatch.rules import ClientSettings
from inkasso.sql import query

# Marked invoices per chunk. Peak memory is set by one chunk's frames, so it stays flat only once
# an agreement fills more than a chunk: at 50 000 the peak was 394 MB at 1M invoices (about 41 000
# per agreement, one partial chunk) and 483 MB at 3M; at 20 000 it is 295 and 305 MB, and the 1M
# dispatch takes as long (22.9 vs 23.1 s on PostgreSQL, same database, alternated).
READ_CHUNK = 20_000
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

    Rows come straight from the driver's cursor as tuples (no per-row SQLAlchemy objects); on
    PostgreSQL a named (server-side) cursor, so only a chunk is held at a time and other
    statements run on ``conn`` between chunks, in the same transaction.
    """
    compiled = query("erp/select_marked_invoices").compile(dialect=conn.dialect)
    # the cutoff as marked_at is stored (the raw cursor applies no SQLAlchemy type): SQLite
    # compares the stored text, and the driver's own form of a datetime (``+00:00``) sorts
    # wrongly against it at an equal time
    as_stored = DateTime(timezone=True).dialect_impl(conn.dialect).bind_processor(conn.dialect)
    params = compiled.construct_params(
        {
            "client_id": client_id,
            "cutoff": as_stored(cutoff) if as_stored else cutoff,
            "yes": True,
            "no": False,
        }
    )
    if compiled.positiontup:  # qmark / numeric drivers (sqlite3)
        params = [params[name] for name in compiled.positiontup]
    dbapi = conn.connection.dbapi_connection
    named = conn.dialect.driver == "psycopg2"
    cursor = dbapi.cursor(f"ink_marked_{client_id}") if named else dbapi.cursor()
    try:
        if named:
            # The cursor's plan is fixed when it is declared, while ink_case (joined by the query)
            # may still look empty. A nested loop would then rescan ink_case per invoice, and
            # the cases this run inserts between fetches make every rescan longer: quadratic.
            # Hash joins read ink_case once. Only for this declaration; RESET restores it.
            conn.exec_driver_sql("SET LOCAL enable_nestloop = off")
        cursor.execute(compiled.string, params)
        if named:
            conn.exec_driver_sql("RESET enable_nestloop")
        yield from _customer_chunks(cursor, chunk)
    finally:
        cursor.close()


def _customer_chunks(cursor, chunk: int) -> Iterator[pd.DataFrame]:
    """Fetch ``chunk`` rows at a time; a customer's rows at the end wait for the next fetch."""
    columns: list[str] | None = None
    carry: list = []
    while True:
        rows = cursor.fetchmany(chunk)
        if columns is None:
            columns = [d[0] for d in cursor.description]
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


def _address_stage(name: str, key: str) -> Table:
    """A temporary table of addresses keyed by ``key`` (filled by COPY or executemany)."""
    return Table(
        name,
        MetaData(),
        Column(key, Integer, primary_key=True),
        Column("street", String(100)),
        Column("postcode", String(10)),
        Column("city", String(50)),
        prefixes=["TEMPORARY"],
    )


# the customers' addresses to write back
ADDRESS_STAGE = _address_stage("ink_stage_address", "id")
# the invoices a dispatch sends, with the address to put on the invoice (NULL: keep its own)
SENT_STAGE = _address_stage("ink_stage_sent", "invoice_id")


def create_stages(conn: Connection) -> None:
    """The temporary tables a dispatch fills chunk by chunk (this connection, this run)."""
    for table in (ADDRESS_STAGE, SENT_STAGE):
        conn.execute(text(f"DROP TABLE IF EXISTS {table.name}"))
        table.create(conn)


def drop_stages(conn: Connection) -> None:
    """Drop the stages again (SQLite keeps temporary tables for the connection's life)."""
    for table in (ADDRESS_STAGE, SENT_STAGE):
        table.drop(conn)


def stage_sent(conn: Connection, invoice_ids: pd.Series, addresses: pd.DataFrame) -> None:
    """Stage the invoices sent, with the address each is sent with where it changes."""
    frame = pd.DataFrame({"invoice_id": invoice_ids.astype("int64").to_numpy()}).merge(
        addresses[["invoice_id", *ADDRESS]], on="invoice_id", how="left"
    )
    copy_rows(conn, SENT_STAGE, frame)


def stage_customer_addresses(conn: Connection, updates: pd.DataFrame) -> None:
    """Stage the customers' postal addresses refreshed from the register."""
    copy_rows(conn, ADDRESS_STAGE, updates.rename(columns={"customer_id": "id"})[["id", *ADDRESS]])


def set_invoices_at_collection(conn: Connection) -> int:
    """Put every staged invoice at collection, with its new address; returns rows changed."""
    return _staged_update(conn, "erp/set_invoices_at_collection", {"no": False})


def update_customer_addresses(conn: Connection) -> None:
    """Write the staged register addresses onto the customers' postal addresses (set-based)."""
    _staged_update(conn, "erp/update_customer_postal_address", {})


def _staged_update(conn: Connection, name: str, params: dict) -> int:
    """Run the ``UPDATE ... FROM`` stage ``name``; returns the rows changed.

    On PostgreSQL each staged row finds its ERP row by the primary key. The planner cannot know
    a temporary table's size (no statistics) and, once the stage is a few thousand rows, hashes
    it and scans the whole ERP table instead: every invoice of the ERP read (most of them from
    disk) for each agreement, whatever the day's share. Only for this statement; RESET
    restores the settings.
    """
    postgres = conn.dialect.name == "postgresql"
    if postgres:
        conn.exec_driver_sql("SET LOCAL enable_hashjoin = off")
        conn.exec_driver_sql("SET LOCAL enable_mergejoin = off")
    changed = conn.execute(query(name), params).rowcount
    if postgres:
        conn.exec_driver_sql("RESET enable_hashjoin")
        conn.exec_driver_sql("RESET enable_mergejoin")
    return changed
