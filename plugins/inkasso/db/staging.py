"""Bulk SQL helpers: temporary staging tables loaded in bulk, chunk by chunk, inside the caller's
transaction (PostgreSQL with psycopg2: ``COPY``; otherwise one ``executemany`` per chunk), so the
writes that follow run set-based (``INSERT ... SELECT``, ``UPDATE ... FROM``)."""

from __future__ import annotations

import contextlib
import io
from collections.abc import Generator
from contextlib import contextmanager
from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    insert,
    text,
)
from sqlalchemy.exc import DBAPIError

BULK_WORK_MEM = "64MB"  # per sort or hash of a bulk transaction (see ``bulk_session``)
BULK_TEMP_BUFFERS = "256MB"  # a session's ceiling for temporary tables in memory (idem)

_TYPES = {
    "int": BigInteger,
    "id": Integer,
    "str": String(200),
    "text": Text,
    "date": Date,
    "bool": Boolean,
}


def _plain(value):
    """A value the DB-API driver takes as it is (numpy scalars and NA gone)."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date() if value == value.normalize() else value.to_pydatetime()
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return value


def _iso_date(value) -> str | None:
    """A date as SQLAlchemy stores it on SQLite ('YYYY-MM-DD')."""
    value = _plain(value)
    if value is None:
        return None
    return value.isoformat()[:10] if isinstance(value, date) else str(value)[:10]


def _sqlite_column(column: pd.Series, kind: str) -> list:
    """One column as plain Python values for sqlite3, converted column-wise (no per-row code
    beyond what dates need): integers and booleans as int, NA as None."""
    if kind == "date":  # a file has few distinct dates: each converted once
        values = column.tolist()
        try:
            iso = {v: _iso_date(v) for v in set(values)}
        except TypeError:  # unhashable
            return [_iso_date(v) for v in values]
        return [iso[v] for v in values]
    if kind in ("seq", "int", "id", "bool"):
        _refuse_fractions(column)
    if kind in ("seq", "int", "id", "bool") and not column.isna().any():
        return column.astype("int64").tolist()
    values = column.astype(object).where(column.notna(), None).tolist()
    if kind in ("seq", "int", "id", "bool"):
        return [None if v is None else int(v) for v in values]
    return [None if v is None else str(v) for v in values]


def _refuse_fractions(column: pd.Series) -> None:
    """An integer column holding a fraction (a float that went astray) is an error, as
    PostgreSQL's COPY makes it, instead of being cut to an integer on the way in."""
    if pd.api.types.is_integer_dtype(column.dtype) or pd.api.types.is_bool_dtype(column.dtype):
        return
    numbers = pd.to_numeric(column.dropna(), errors="coerce")
    fraction = numbers[numbers.notna() & (numbers != numbers.round())]
    if len(fraction):
        raise ValueError(
            f"staging column {column.name!r}: {fraction.iloc[0]!r} is not a whole number"
        )


NULL = "\\N"  # COPY's text format: NULL; an empty string stays ''
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})
_INT_KINDS = ("seq", "int", "id")


def _copy_column(column: pd.Series, kind: str) -> list[str]:
    """One column as fields of COPY's text format, converted column-wise: NULL as ``\\N``,
    text escaped; values written as ``str`` writes them (so a float in an integer column
    fails in the database, as it should, instead of being cut to an integer here)."""
    na = column.isna().to_numpy()
    if kind in _INT_KINDS and pd.api.types.is_integer_dtype(column.dtype):
        values = np.array(list(map(str, column.to_numpy("int64", na_value=0).tolist())), object)
    elif kind == "bool" and pd.api.types.is_bool_dtype(column.dtype):
        values = np.where(column.to_numpy(dtype=bool, na_value=False), "t", "f").astype(object)
    elif kind == "date":  # a file has few distinct dates: each written once
        codes, days = pd.factorize(column)
        values = np.array([str(v) for v in days] + [NULL], dtype=object)[codes]
    else:
        values = np.array([v if type(v) is str else str(v) for v in column.tolist()], dtype=object)
        joined = "".join(values[~na])
        if any(c in joined for c in "\\\t\n\r"):
            values = np.array([v.translate(_ESCAPES) for v in values], dtype=object)
    values[na] = NULL
    return values.tolist()


def _copy(conn, table: Table, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """One ``COPY ... FROM STDIN`` (text format) of the frame's columns ``types``; the rows are
    built column by column, no per-row object beyond the line itself."""
    columns = [_copy_column(frame[c], k) for c, k in types.items()]
    buf = io.StringIO("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n")
    quoted = ", ".join(f'"{c}"' for c in types)
    with conn.connection.dbapi_connection.cursor() as cur:
        cur.copy_expert(f'COPY "{table.name}" ({quoted}) FROM STDIN', buf)


def load(conn, table: Table, frame: pd.DataFrame, types: dict[str, str]) -> None:
    """Append ``frame``'s columns ``types`` to ``table`` in one bulk statement."""
    if frame.empty:
        return
    frame = frame[list(types)]
    if conn.dialect.driver == "psycopg2":
        _copy(conn, table, frame, types)
        return
    if conn.dialect.name == "sqlite":
        rows = list(zip(*(_sqlite_column(frame[c], k) for c, k in types.items()), strict=True))
        marks = ", ".join("?" for _ in types)
        quoted = ", ".join(f'"{c}"' for c in types)
        conn.exec_driver_sql(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows)
        return
    rows = [
        {c: _plain(v) for c, v in zip(types, row, strict=True)}
        for row in frame.itertuples(index=False)
    ]
    conn.execute(insert(table), rows)


def _column(conn, name: str, kind: str) -> Column:
    """One staging column. ``seq`` (the record's place in the file): on SQLite the table's
    INTEGER PRIMARY KEY, i.e. its rowid, so rows are stored in file order and the ``ORDER BY
    seq`` of the statements that read them needs no sort (a temporary B-tree per statement);
    PostgreSQL sorts a staged file in memory (``bulk_session``) and keeps no index up on COPY."""
    if kind == "seq" and conn.dialect.name == "sqlite":
        return Column(name, Integer, primary_key=True, autoincrement=False)
    return Column(name, BigInteger if kind == "seq" else _TYPES[kind])


def stage_table(conn, name: str, types: dict[str, str]) -> Table:
    """Create an empty temporary table ``name`` (columns and types from ``types``) on ``conn``."""
    table = Table(
        name,
        MetaData(),
        *[_column(conn, col, kind) for col, kind in types.items()],
        prefixes=["TEMPORARY"],
    )
    conn.execute(text(f'DROP TABLE IF EXISTS "{name}"'))
    table.create(conn)
    return table


def analyze(conn, table: Table) -> None:
    """Planner statistics for a freshly loaded staging table (PostgreSQL has none for it)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f'ANALYZE "{table.name}"'))


@contextmanager
def staged(
    conn, name: str, frame: pd.DataFrame, types: dict[str, str]
) -> Generator[Table, None, None]:
    """Load ``frame`` into a temporary table ``name`` (columns and types from ``types``).

    The table lives on this connection, inside the caller's transaction, and is dropped after.
    """
    table = stage_table(conn, name, types)
    try:
        load(conn, table, frame, types)
        yield table
    except BaseException:
        # On PostgreSQL a failed statement aborts the transaction, so this drop fails too
        # (InFailedSqlTransaction) and would replace the real error; the caller's rollback
        # removes the table anyway. The real error is what must surface.
        with contextlib.suppress(Exception):
            table.drop(conn)
        raise
    table.drop(conn)


def bulk_session(conn) -> None:
    """Settings for the bulk statements of this transaction only (PostgreSQL; SET LOCAL).

    JIT compiles every statement whose estimated cost is high: for the short ``INSERT ... SELECT``
    of a file that compilation alone takes about 0.4 s, more than the work. The default 4 MB of
    ``work_mem`` sends the sort of a staged file in line order (``ORDER BY seq``, so events and
    bookings get their ids in file order) and the hash of its join to disk from about 30,000
    records on; 64 MB keeps a file of a few hundred thousand records in memory (per sort, for
    this transaction only). The default 8 MB of ``temp_buffers`` holds about 60,000 staged
    closures: a bigger file's staging table went through the disk on its COPY and again on each
    statement that reads it (see ``_temp_buffers``).
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SET LOCAL jit = off"))
        conn.execute(text(f"SET LOCAL work_mem = '{BULK_WORK_MEM}'"))
        _temp_buffers(conn)


def _temp_buffers(conn) -> None:
    """Raise ``temp_buffers`` (a ceiling, taken only as temporary tables fill) for this
    transaction, if the session still allows it: PostgreSQL refuses any change once the session
    has used a temporary table at another size, so the attempt runs in a savepoint and a refusal
    leaves the transaction as it was, on the default size."""
    smaller = "SELECT pg_size_bytes(current_setting('temp_buffers')) < pg_size_bytes(:size)"
    if not conn.execute(text(smaller), {"size": BULK_TEMP_BUFFERS}).scalar_one():
        return
    try:
        with conn.begin_nested():
            conn.execute(text(f"SET LOCAL temp_buffers = '{BULK_TEMP_BUFFERS}'"))
    except DBAPIError:
        pass  # temporary tables already in use at the default size: it stays
