"""The staging tables the set-based writes read: what is loaded comes back as it was (text with
tabs, backslashes and line breaks, empty text apart from NULL, integers with gaps, dates), on
SQLite and PostgreSQL, and the bulk session's settings never break the caller's transaction."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from inkasso.db.staging import BULK_TEMP_BUFFERS, bulk_session, load, stage_table
from tests.pg import drop_postgres, new_postgres_url

TYPES = {"seq": "seq", "amount": "int", "case_id": "id", "live": "bool", "ref": "str",
         "detail": "text", "day": "date", "stamp": "date"}  # fmt: skip
HOSTILE = ["a\tb", "back\\slash", "two\nlines", "cr\rhere", 'quote " and , comma', "", "æøå \\N"]


def _frame() -> pd.DataFrame:
    n = len(HOSTILE)
    return pd.DataFrame({
        "seq": np.arange(n, dtype="int64"),
        "amount": pd.array([12_345_678_901, None, 0, -5, None, 7, 1], dtype="Int64"),
        "case_id": np.arange(100, 100 + n),
        "live": [True, False] * 3 + [True],
        "ref": pd.Series([None, "L1", "", "L3", None, "L5", "\\N"], dtype=object),
        "detail": HOSTILE,
        "day": [date(2026, 11, 10), None, date(2026, 1, 31)] + [date(2026, 11, 10)] * (n - 3),
        "stamp": pd.to_datetime(["2026-11-10", None] + ["2026-12-01"] * (n - 2)),
    })  # fmt: skip


def test_staged_rows_come_back_as_they_were_loaded(erp_engine):
    frame = _frame()
    with erp_engine.begin() as conn:
        table = stage_table(conn, "tmp_stage_roundtrip", TYPES)
        load(conn, table, frame, TYPES)
        back = conn.execute(
            text(f"SELECT {', '.join(TYPES)} FROM tmp_stage_roundtrip ORDER BY seq")
        ).all()
        table.drop(conn)
    assert [r.detail for r in back] == HOSTILE
    assert [r.ref for r in back] == [None, "L1", "", "L3", None, "L5", "\\N"]
    assert [r.amount for r in back] == [12_345_678_901, None, 0, -5, None, 7, 1]
    assert [bool(r.live) for r in back] == [True, False] * 3 + [True]
    assert [r.case_id for r in back] == list(range(100, 107))
    days = [None if r.day is None else str(r.day)[:10] for r in back]
    assert days[:3] == ["2026-11-10", None, "2026-01-31"]
    assert [None if r.stamp is None else str(r.stamp)[:10] for r in back][:3] == [
        "2026-11-10", None, "2026-12-01"
    ]  # fmt: skip


def test_a_float_in_an_integer_column_is_refused_not_cut(erp_engine):
    """Money never passes through float: 12.5 øre staged as an integer is an error."""
    frame = pd.DataFrame({"seq": [1], "amount": [12.5]})
    with pytest.raises(Exception, match="12.5"), erp_engine.begin() as conn:
        table = stage_table(conn, "tmp_stage_float", {"seq": "seq", "amount": "int"})
        load(conn, table, frame, {"seq": "seq", "amount": "int"})


@pytest.fixture
def pg_url():
    """A fresh PostgreSQL database (``temp_buffers`` is PostgreSQL's own setting)."""
    url = new_postgres_url()
    yield url
    drop_postgres(url)


@pytest.mark.postgres
def test_bulk_session_raises_temp_buffers_and_a_refusal_keeps_the_transaction(pg_url):
    """A fresh session gets the bigger ceiling for its staging tables; a session that already
    used a temporary table keeps its size (PostgreSQL refuses the change) and its transaction
    goes on as if nothing was tried."""
    engine = create_engine(pg_url, poolclass=NullPool)  # each connect a new session
    with engine.connect() as conn:
        with conn.begin():
            bulk_session(conn)
            assert conn.execute(text("SHOW temp_buffers")).scalar_one() == BULK_TEMP_BUFFERS
    with engine.connect() as conn:
        with conn.begin():
            conn.execute(text("SET LOCAL temp_buffers = '9MB'"))
            conn.execute(text("CREATE TEMPORARY TABLE tmp_first (a int)"))
            conn.execute(text("INSERT INTO tmp_first VALUES (1)"))
        with conn.begin():
            bulk_session(conn)  # refused: the session's temporary tables use 9 MB
            assert conn.execute(text("SHOW temp_buffers")).scalar_one() == "8MB"
            assert conn.execute(text("SELECT a FROM tmp_first")).scalar_one() == 1
            assert conn.execute(text("SHOW work_mem")).scalar_one() == "64MB"
    engine.dispose()
