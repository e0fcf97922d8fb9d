"""money across a case's life: booking mode, reminder level, gates, collections, after-closure

Revision ID: 0005_money
Revises: 0004_inbound_fetch
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_money"
down_revision = "0004_inbound_fetch"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the money tables and columns.

    Long because it declares every table and column of the money schema; migrations are never
    edited once released.
    """
    with op.batch_alter_table("ink_agreement") as batch:
        batch.add_column(sa.Column("reminder_level", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("booking_mode", sa.String(length=12), server_default="bank", nullable=False)
        )
        batch.add_column(sa.Column("gates", sa.Text(), nullable=True))
    op.execute(
        "UPDATE ink_agreement SET booking_mode = CASE WHEN settle_on_closure "
        "THEN 'settlement' ELSE 'bank' END"
    )
    with op.batch_alter_table("ink_agreement") as batch:
        batch.drop_column("settle_on_closure")
    with op.batch_alter_table("ink_payout") as batch:
        batch.add_column(sa.Column("case_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("covers_from", sa.Date(), nullable=True))
        batch.add_column(sa.Column("covers_to", sa.Date(), nullable=True))
        batch.create_foreign_key(
            "fk_ink_payout_case_id_ink_case", "ink_case", ["case_id"], ["case_id"]
        )
    op.create_table(
        "ink_collection",
        sa.Column("collection_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("closure_date", sa.Date(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("booked_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_collection_agreement_id_ink_agreement"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ink_case.case_id"], name=op.f("fk_ink_collection_case_id_ink_case")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["ink_file_log.file_id"],
            name=op.f("fk_ink_collection_file_id_ink_file_log"),
        ),
        sa.PrimaryKeyConstraint("collection_id", name=op.f("pk_ink_collection")),
        sa.UniqueConstraint("file_id", "case_id", name=op.f("uq_ink_collection_file_id_case_id")),
    )
    op.create_index(op.f("ix_ink_collection_case_id"), "ink_collection", ["case_id"], unique=False)
    op.create_table(
        "ink_after_closure",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("event_date", sa.Date(), nullable=False),
        sa.Column("verdict", sa.String(length=20), nullable=False),
        sa.Column("refund_amount", sa.BigInteger(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_after_closure_agreement_id_ink_agreement"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ink_case.case_id"], name=op.f("fk_ink_after_closure_case_id_ink_case")
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_ink_after_closure")),
        sa.UniqueConstraint(
            "source", "source_id", name=op.f("uq_ink_after_closure_source_source_id")
        ),
    )
    op.create_index(
        op.f("ix_ink_after_closure_case_id"), "ink_after_closure", ["case_id"], unique=False
    )
    op.create_index(
        op.f("ix_ink_after_closure_business_date"),
        "ink_after_closure",
        ["business_date"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_table("ink_after_closure")
    op.drop_table("ink_collection")
    with op.batch_alter_table("ink_payout") as batch:
        batch.drop_constraint("fk_ink_payout_case_id_ink_case", type_="foreignkey")
        batch.drop_column("covers_to")
        batch.drop_column("covers_from")
        batch.drop_column("case_id")
    with op.batch_alter_table("ink_agreement") as batch:
        batch.add_column(
            sa.Column("settle_on_closure", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    op.execute("UPDATE ink_agreement SET settle_on_closure = (booking_mode = 'settlement')")
    with op.batch_alter_table("ink_agreement") as batch:
        batch.drop_column("gates")
        batch.drop_column("booking_mode")
        batch.drop_column("reminder_level")
