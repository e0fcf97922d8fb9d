"""Delivery claims: who is delivering an outgoing file, and since when

Revision ID: 0008_delivery_claim
Revises: 0007_bulk_indexes
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_delivery_claim"
down_revision = "0007_bulk_indexes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a deliverer claims a file (status 'delivering') before it uploads it: host:pid:token
    op.add_column("ink_file_log", sa.Column("claimed_by", sa.String(length=200), nullable=True))
    op.add_column(
        "ink_file_log", sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("ink_file_log") as batch:
        batch.drop_column("claimed_at")
        batch.drop_column("claimed_by")
