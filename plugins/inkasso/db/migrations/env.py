"""Alembic environment: migrates the pipeline's tables with the engine handed in by migrate.py."""

from alembic import context

from inkasso.db.migrate import VERSION_TABLE
from inkasso.db.schema import pipeline_metadata


def _foreign_keys(connection, on: bool) -> None:
    """SQLite: switch foreign-key enforcement (only takes effect outside a transaction)."""
    connection.exec_driver_sql(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")
    connection.commit()


engine = context.config.attributes["engine"]
sqlite = engine.dialect.name == "sqlite"
with engine.connect() as connection:
    # SQLite changes a constraint by rebuilding the table, and with foreign keys on it refuses to
    # drop the old copy of a table other tables refer to. SQLite's documented procedure: keys off
    # for the migration, every key checked before it commits, keys on again.
    if sqlite:
        _foreign_keys(connection, False)
    try:
        with connection.begin():
            if sqlite:  # the driver begins only before DML: all of it in one transaction
                connection.exec_driver_sql("BEGIN")
            context.configure(
                connection=connection,
                target_metadata=pipeline_metadata,
                version_table=VERSION_TABLE,
                render_as_batch=sqlite,
            )
            before = context.get_context().get_current_revision()
            context.run_migrations()
            # only after a migration ran: a full check of a large SQLite file takes a while
            if sqlite and context.get_context().get_current_revision() != before:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"migration leaves rows without their parent: {broken[:5]}")
    finally:
        if sqlite:
            _foreign_keys(connection, True)
