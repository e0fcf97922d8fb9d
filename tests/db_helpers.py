"""Reading a test database back: the same three helpers the tests of every flow use."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import text


def query_frame(engine, sql: str, **params) -> pd.DataFrame:
    """The rows of ``sql`` as a frame (columns by name)."""
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(text(sql), params).mappings().all())


def query_rows(engine, sql: str, **params) -> list:
    """The rows of ``sql`` as the driver's rows (tuples by position and by name)."""
    with engine.connect() as conn:
        return conn.execute(text(sql), params).all()


def query_one(engine, sql: str, **params):
    """The first column of the first row of ``sql`` (None when there is none)."""
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()
