"""The SQL files under ``include/sql/``: the ERP adapter queries, loaded by name."""

from __future__ import annotations

from functools import cache

from sqlalchemy import TextClause, bindparam, text

from inkasso.config import SQL_DIR


@cache
def query(name: str, *expanding: str) -> TextClause:
    """Load ``include/sql/<name>.sql`` as a SQLAlchemy text clause.

    ``expanding`` names the parameters that take a list (``IN :ids``).
    """
    clause = text((SQL_DIR / f"{name}.sql").read_text(encoding="utf-8"))
    for param in expanding:
        clause = clause.bindparams(bindparam(param, expanding=True))
    return clause
