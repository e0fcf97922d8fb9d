"""A failure inside a staging table's block surfaces as itself, not as the staging drop's error
(on PostgreSQL the drop fails in the aborted transaction with InFailedSqlTransaction)."""

from __future__ import annotations

import pandas as pd
import pytest
import sqlalchemy.exc
from sqlalchemy import text

from inkasso.db.staging import staged


def test_the_real_error_surfaces_from_a_staged_block(erp_engine):
    frame = pd.DataFrame({"case_id": [1, 2], "note": ["a", "b"]})

    with pytest.raises(sqlalchemy.exc.DBAPIError) as raised, erp_engine.begin() as conn:
        with staged(conn, "tmp_fault", frame, {"case_id": "id", "note": "str"}):
            conn.execute(text("SELECT * FROM no_such_table_here"))

    assert "no_such_table_here" in str(raised.value)
    assert "InFailedSqlTransaction" not in str(raised.value)


def test_a_staged_block_that_succeeds_drops_its_table(erp_engine):
    frame = pd.DataFrame({"case_id": [1, 2], "note": ["a", "b"]})
    with erp_engine.begin() as conn:
        with staged(conn, "tmp_fault", frame, {"case_id": "id", "note": "str"}) as table:
            assert conn.execute(text(f"SELECT COUNT(*) FROM {table.name}")).scalar() == 2
        # gone on this connection: the same name can be staged again in the same transaction
        with staged(conn, "tmp_fault", frame, {"case_id": "id", "note": "str"}):
            pass
