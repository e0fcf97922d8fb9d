"""A case's KID payouts found by the case: the invoice status of an ended case asks whether
its agency's payout is still on its way

Revision ID: 0015_payout_case_index
Revises: 0014_event_closure_amounts
"""

from alembic import op

revision = "0015_payout_case_index"
down_revision = "0014_event_closure_amounts"
branch_labels = None
depends_on = None

INDEX = "ix_ink_payout_case_id"


def upgrade() -> None:
    op.create_index(INDEX, "ink_payout", ["case_id"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="ink_payout")
