"""A temporary staging table per statement batch, so updates run set-based (UPDATE ... FROM)."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import contextmanager

import pandas as pd
from sqlalchemy import BigInteger, Boolean, Column, Date, Integer, MetaData, String, Table, insert

_TYPES = {"int": BigInteger, "id": Integer, "str": String(200), "date": Date, "bool": Boolean}


def records(frame: pd.DataFrame) -> list[dict]:
    """Frame rows as plain-Python dicts (numpy ints -> int, NaN/NA -> None)."""
    out = frame.astype(object).where(frame.notna(), None)
    return out.to_dict("records")


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
            conn.execute(insert(table), records(frame[list(types)]))
        yield table
    finally:
        table.drop(conn)
