"""A bank file's modification time in its drop, as it was when the file was read: the next
listing finds a file replaced under its name (even with the same size) by that time alone,
whatever the bank's clock says

Revision ID: 0012_bank_source_mtime
Revises: 0011_event_file_index
"""

import sqlalchemy as sa
from alembic import op

revision = "0012_bank_source_mtime"
down_revision = "0011_event_file_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("ink_file_log", sa.Column("source_mtime", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("ink_file_log") as batch:
        batch.drop_column("source_mtime")
