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


EXAMPLE_BANKGIRO = "9912346"  # Bankgirot's example payee (BgMaxfil4.txt) and the tests' BgMax files
EXAMPLE_NO_ACCOUNT = "99991042764"  # Nets' example assignment account (ocr_giro_transactions.txt)


def receive_at_example_accounts(engine) -> None:
    """Make every client's default bank account the one the banks' example files and the tests'
    own files are paid into (Swedish clients: Bankgirot's bankgiro; Norwegian: Nets' account):
    the bank import books only files paid into an account of the client."""
    with engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE erp_client SET default_bank_account"
                " = CASE WHEN country = 'SE' THEN :se ELSE :no END"
            ),
            {"se": EXAMPLE_BANKGIRO, "no": EXAMPLE_NO_ACCOUNT},
        )
