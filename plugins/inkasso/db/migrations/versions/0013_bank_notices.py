"""Bank files the import could not read, and lump payouts given to an agreement by its account
alone, kept for the day's report: ``ink_bank_notice`` (a listed name refused, or a file gone
between listing and reading: neither is in ``ink_file_log``) and ``ink_payout.picked``; and a
held invoice's amount and currency on the day it was held (``ink_dispatch_hold.amount``,
``currency``; NULL for the holds before), so a backfilled day's mail tells that day's amounts

Revision ID: 0013_bank_notices
Revises: 0012_bank_source_mtime
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_bank_notices"
down_revision = "0012_bank_source_mtime"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ink_bank_notice",
        sa.Column("notice_id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("drop", sa.Text(), nullable=False),
        sa.Column("run_id", sa.String(length=250)),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "client_id",
            "business_date",
            "status",
            "file_name",
            name="uq_ink_bank_notice_client_id_business_date_status_file_name",
        ),
    )
    op.add_column(
        "ink_payout", sa.Column("picked", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.add_column("ink_dispatch_hold", sa.Column("amount", sa.BigInteger()))
    op.add_column("ink_dispatch_hold", sa.Column("currency", sa.String(length=3)))


def downgrade() -> None:
    with op.batch_alter_table("ink_dispatch_hold") as batch:
        batch.drop_column("currency")
        batch.drop_column("amount")
    with op.batch_alter_table("ink_payout") as batch:
        batch.drop_column("picked")
    op.drop_table("ink_bank_notice")
