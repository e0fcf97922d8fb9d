"""Bulk work: the indexes the set-based joins of dispatch, inbound and the bank import need

Revision ID: 0007_bulk_indexes
Revises: 0006_ui_indexes
"""

from alembic import op

revision = "0007_bulk_indexes"
down_revision = "0006_ui_indexes"
branch_labels = None
depends_on = None

# (name, table, columns): each line names the join that needs it
INDEXES = [
    # dispatch: invoices put at collection and case events written by the file just logged
    ("ix_ink_case_file_id", "ink_case", ["file_id"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
