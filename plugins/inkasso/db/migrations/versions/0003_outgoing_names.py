"""outgoing file names unique per agreement; corrections found by file

Revision ID: 0003_outgoing_names
Revises: 0002_report
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_outgoing_names"
down_revision = "0002_report"
branch_labels = None
depends_on = None

OUT = "direction = 'out'"


def upgrade() -> None:
    op.create_index(
        "ux_ink_file_log_out_name",
        "ink_file_log",
        ["agreement_id", "file_name"],
        unique=True,
        sqlite_where=sa.text(OUT),
        postgresql_where=sa.text(OUT),
    )
    op.create_index("ix_ink_correction_file_id", "ink_correction", ["file_id"])


def downgrade() -> None:
    op.drop_index("ix_ink_correction_file_id", table_name="ink_correction")
    op.drop_index("ux_ink_file_log_out_name", table_name="ink_file_log")
