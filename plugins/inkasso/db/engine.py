"""The ERP database connection: one SQLAlchemy engine per URL and process."""

from __future__ import annotations

from functools import cache

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL

ERP_CONN_ID = "erp_db"


def _register_sqlite_adapters() -> None:
    """Let sqlite3 bind pendulum DateTimes (``pendulum.now()``, Airflow's dates) as ISO text.

    Airflow registers this adapter itself only when its own metadata database is SQLite; with
    PostgreSQL metadata an SQLite ERP would refuse them (``type 'DateTime' is not supported``).
    The same format as Airflow's, so both set-ups store the same text.
    """
    import sqlite3

    try:
        from pendulum import DateTime
    except ImportError:  # pragma: no cover - pendulum comes with Airflow
        return
    sqlite3.register_adapter(DateTime, lambda val: val.isoformat(" "))


@cache
def engine_for_url(url: str) -> Engine:
    """Return a (cached) engine for a SQLAlchemy URL; SQLite gets foreign keys, WAL and a busy
    timeout."""
    if url.startswith("sqlite"):
        _register_sqlite_adapters()
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            # WAL: readers never wait for the writer and the writer never waits for readers, so
            # parallel tasks under a real scheduler share the file; writers queue for 60 s
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        return engine
    # bigger multi-row INSERT pages: fewer round trips for bulk inserts of cases and events
    return create_engine(url, pool_pre_ping=True, insertmanyvalues_page_size=5000)


def url_from_connection(conn) -> str:
    """Build a SQLAlchemy URL from an Airflow connection.

    An ``extra`` key ``sqlalchemy_url`` wins; otherwise ``postgres`` connections become
    ``postgresql+psycopg2://`` URLs and ``sqlite`` connections use ``host`` as the file path.
    """
    extra = conn.extra_dejson or {}
    if extra.get("sqlalchemy_url"):
        return extra["sqlalchemy_url"]
    if conn.conn_type in ("postgres", "postgresql"):
        # URL.create quotes what a password may hold ('@', '/', ':', '%', '#'); string
        # concatenation would cut the URL at the first of them
        url = URL.create(
            "postgresql+psycopg2",
            username=conn.login or None,
            password=conn.password or None,
            host=conn.host or None,
            port=int(conn.port or 5432),
            database=conn.schema or None,
        )
        return url.render_as_string(hide_password=False)
    if conn.conn_type == "sqlite":
        return URL.create("sqlite", database=conn.host).render_as_string()
    raise ValueError(
        f"connection {conn.conn_id!r}: type {conn.conn_type!r} is not supported; "
        "use postgres, sqlite or an extra 'sqlalchemy_url'"
    )


def erp_engine(conn_id: str = ERP_CONN_ID) -> Engine:
    """Engine for the ERP database behind the Airflow connection ``conn_id`` (inside a task).

    A missing connection fails the task at once (``AirflowFailException``), never retried.
    """
    from inkasso.connections import require_connection

    return engine_for_url(url_from_connection(require_connection(conn_id, "the ERP database")))
