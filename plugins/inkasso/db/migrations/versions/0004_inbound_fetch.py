"""the days each agreement's agency outbox was listed (a run for an earlier day is a backfill)

Revision ID: 0004_inbound_fetch
Revises: 0003_outgoing_names
"""

import sqlalchemy as sa
from alembic import op

revision = "0004_inbound_fetch"
down_revision = "0003_outgoing_names"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ink_inbound_fetch",
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_inbound_fetch_agreement_id_ink_agreement"),
        ),
        sa.PrimaryKeyConstraint("agreement_id", "business_date", name=op.f("pk_ink_inbound_fetch")),
    )


def downgrade() -> None:
    op.drop_table("ink_inbound_fetch")
