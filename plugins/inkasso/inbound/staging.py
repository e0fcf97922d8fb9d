"""Bulk SQL helpers: a temporary staging table so updates run set-based (UPDATE ... FROM), and
bulk inserts that use PostgreSQL's COPY (inside the caller's transaction) and a multi-row INSERT
elsewhere."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Generator
from contextlib import contextmanager
from datetime import date, datetime

import pandas as pd
from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, MetaData, String, Table, insert

_TYPES = {"int": BigInteger, "id": Integer, "str": String(200), "date": Date, "bool": Boolean}


def records(frame: pd.DataFrame) -> list[dict]:
    """Frame rows as plain-Python dicts (numpy ints -> int, NaN/NA -> None)."""
    out = frame.astype(object).where(frame.notna(), None)
    return out.to_dict("records")


def _copy_value(value) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value)
    for char, escaped in (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r")):
        text = text.replace(char, escaped)
    return text


def bulk_insert(conn, table: Table, rows: list[dict]) -> None:
    """Insert ``rows`` (dicts with the same keys) into ``table`` in the caller's transaction.

    PostgreSQL with psycopg2: one ``COPY ... FROM STDIN``; otherwise a batched multi-row INSERT.
    """
    if not rows:
        return
    columns = list(rows[0])
    if conn.dialect.driver != "psycopg2":
        conn.execute(insert(table), rows)
        return
    buf = io.StringIO()
    for row in rows:
        buf.write("\t".join(_copy_value(row[c]) for c in columns))
        buf.write("\n")
    buf.seek(0)
    quoted = ", ".join(f'"{c}"' for c in columns)
    with conn.connection.dbapi_connection.cursor() as cur:
        cur.copy_expert(f'COPY "{table.name}" ({quoted}) FROM STDIN', buf)


@contextmanager
def staged(
    conn, name: str, frame: pd.DataFrame, types: dict[str, str]
) -> Generator[Table, None, None]:
    """Load ``frame`` into a temporary table ``name`` (columns and types from ``types``).

    The table lives on this connection, inside the caller's transaction, and is dropped after.
    """
    table = Table(
        name,
        MetaData(),
        *[Column(col, _TYPES[kind]) for col, kind in types.items()],
        prefixes=["TEMPORARY"],
    )
    table.create(conn)
    try:
        if len(frame):
            bulk_insert(conn, table, records(frame[list(types)]))
        yield table
    except BaseException:
        # On PostgreSQL a failed statement aborts the transaction, so this drop fails too
        # (InFailedSqlTransaction) and would replace the real error; the caller's rollback
        # removes the table anyway. The real error is what must surface.
        with contextlib.suppress(Exception):
            table.drop(conn)
        raise
    table.drop(conn)
