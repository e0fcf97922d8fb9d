"""Fresh PostgreSQL databases for tests (127.0.0.1:5432, trust auth); one per test or example."""

from __future__ import annotations

import os
import uuid

import sqlalchemy as sa

PG_ADMIN_URL = os.environ.get(
    "INKASSO_TEST_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)


def new_postgres_url() -> str:
    """Create a fresh PostgreSQL database for one test and return its URL (never a skip)."""
    name = f"inkasso_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:  # a missing server is a failure, never a skip
        raise RuntimeError(
            f"PostgreSQL at {PG_ADMIN_URL} is required by the test suite: {exc}"
        ) from exc
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres(url: str) -> None:
    """Drop a database made by ``new_postgres_url`` (its engines disposed first)."""
    from inkasso.db.engine import engine_for_url

    engine_for_url(url).dispose()
    name = url.rsplit("/", 1)[1]
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()
