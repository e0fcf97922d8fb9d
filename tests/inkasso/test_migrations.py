"""The Alembic migrations build exactly the tables schema.py declares, and go back down cleanly."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from inkasso.db.engine import engine_for_url
from inkasso.db.migrate import VERSION_TABLE, alembic_config, upgrade
from inkasso.db.schema import pipeline_metadata


def test_migrations_match_the_declared_tables_and_downgrade(erp_url):
    engine = engine_for_url(erp_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, pipeline_metadata) == []
    command.downgrade(alembic_config(engine), "base")
    assert set(sa.inspect(engine).get_table_names()) == {VERSION_TABLE}
    upgrade(engine)  # and up again
    assert set(pipeline_metadata.tables) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()
