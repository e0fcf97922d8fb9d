"""Alembic environment: migrates the pipeline's tables with the engine handed in by migrate.py."""

from alembic import context

from inkasso.db.migrate import VERSION_TABLE
from inkasso.db.schema import pipeline_metadata

engine = context.config.attributes["engine"]
with engine.begin() as connection:
    context.configure(
        connection=connection,
        target_metadata=pipeline_metadata,
        version_table=VERSION_TABLE,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    context.run_migrations()
