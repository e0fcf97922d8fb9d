"""Person register lookups (Folkeregisteret in Norway, SPAR in Sweden) behind one interface.

A real register is an API with its own agreement; the demo and the tests use a table in the ERP
database. Any class with ``lookup_many`` can stand in.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import pandas as pd
from sqlalchemy import Connection

from inkasso.sql import query

REGISTER_COLUMNS = ["national_id", "name", "street", "postcode", "city"]
_CHUNK = 5_000


class PersonRegister(Protocol):
    """Looks up current addresses for many national ids at once."""

    def lookup_many(self, national_ids: Iterable[str]) -> pd.DataFrame:
        """Return one row per id found, with the columns in ``REGISTER_COLUMNS``."""
        ...


class TablePersonRegister:
    """The register as a table (``erp_person_register``) in the ERP database: one query per chunk."""

    def __init__(self, conn: Connection):
        self.conn = conn

    def lookup_many(self, national_ids: Iterable[str]) -> pd.DataFrame:
        """Look the ids up in chunks of 5 000 (one ``IN`` query each)."""
        ids = sorted(set(national_ids))
        frames = [
            pd.DataFrame(
                self.conn.execute(query("erp/select_register", "ids"), {"ids": ids[i : i + _CHUNK]})
                .mappings()
                .all(),
                columns=REGISTER_COLUMNS,
            )
            for i in range(0, len(ids), _CHUNK)
        ]
        if not frames:
            return pd.DataFrame(columns=REGISTER_COLUMNS)
        return pd.concat(frames, ignore_index=True)
