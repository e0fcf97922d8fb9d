"""The ERP URL from the Airflow connection survives a password with '@', '/', ':' and '%'."""

from __future__ import annotations

import pytest
from airflow.models.connection import Connection
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from inkasso.db.engine import url_from_connection
from tests.pg import PG_ADMIN_URL

HOSTILE = "p@ss/w:rd%40#?x"


def test_a_password_with_url_characters_reaches_the_driver_unchanged():
    conn = Connection(
        conn_id="erp_db", conn_type="postgres", host="db.example", port=5433,
        login="inkasso", password=HOSTILE, schema="erp",
    )  # fmt: skip

    url = make_url(url_from_connection(conn))

    assert (url.drivername, url.username, url.password) == (
        "postgresql+psycopg2",
        "inkasso",
        HOSTILE,
    )
    assert (url.host, url.port, url.database) == ("db.example", 5433, "erp")


@pytest.mark.postgres
def test_postgres_is_reached_as_the_user_of_the_hostile_connection():
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    admin_url = make_url(PG_ADMIN_URL)
    with admin.connect() as db:
        db.execute(text("DROP ROLE IF EXISTS ink_hostile_pw"))
        db.execute(text(f"CREATE ROLE ink_hostile_pw LOGIN PASSWORD '{HOSTILE}'"))
    try:
        conn = Connection(
            conn_id="erp_db", conn_type="postgres", host=admin_url.host, port=admin_url.port,
            login="ink_hostile_pw", password=HOSTILE, schema=admin_url.database,
        )  # fmt: skip
        engine = create_engine(url_from_connection(conn))
        with engine.connect() as db:
            assert db.execute(text("SELECT current_user")).scalar() == "ink_hostile_pw"
        engine.dispose()
    finally:
        with admin.connect() as db:
            db.execute(text("DROP ROLE IF EXISTS ink_hostile_pw"))
        admin.dispose()


def test_sqlite_connection_names_its_file(tmp_path):
    conn = Connection(conn_id="erp_db", conn_type="sqlite", host=str(tmp_path / "erp.sqlite"))
    assert make_url(url_from_connection(conn)).database == str(tmp_path / "erp.sqlite")
