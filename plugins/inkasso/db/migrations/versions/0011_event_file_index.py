"""Events found by their file: deleting a file-log row (dispatch's day with nothing to send)
and a file's events no longer scan every event

Revision ID: 0011_event_file_index
Revises: 0010_correction_write_cost
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_event_file_index"
down_revision = "0010_correction_write_cost"
branch_labels = None
depends_on = None

INDEX = "ix_ink_case_event_file_id"
WITH_FILE = "file_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        INDEX,
        "ink_case_event",
        ["file_id"],
        sqlite_where=sa.text(WITH_FILE),
        postgresql_where=sa.text(WITH_FILE),
    )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="ink_case_event")
