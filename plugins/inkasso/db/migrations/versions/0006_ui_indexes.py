"""Inkasso view: indexes for its list and case pages, handled state of quarantined files,
and the log of what people asked for in the view

Revision ID: 0006_ui_indexes
Revises: 0005_money
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_ui_indexes"
down_revision = "0005_money"
branch_labels = None
depends_on = None

# (name, table, columns): the list pages sort newest first and narrow by these columns
INDEXES = [
    ("ix_ink_case_day", "ink_case", ["business_date", "case_id"]),
    ("ix_ink_case_agreement_day", "ink_case", ["agreement_id", "business_date", "case_id"]),
    ("ix_ink_case_status_day", "ink_case", ["status", "business_date", "case_id"]),
    (
        "ix_ink_case_agreement_status_day",
        "ink_case",
        ["agreement_id", "status", "business_date", "case_id"],
    ),
    ("ix_ink_case_agency_case_ref", "ink_case", ["agency_case_ref"]),
    ("ix_ink_case_invoice_id", "ink_case", ["invoice_id"]),
    ("ix_ink_case_customer_id", "ink_case", ["customer_id"]),
    ("ix_ink_correction_case_id", "ink_correction", ["case_id"]),
    ("ix_ink_file_log_day", "ink_file_log", ["business_date", "file_id"]),
    ("ix_ink_file_log_agreement_day", "ink_file_log", ["agreement_id", "business_date", "file_id"]),
    ("ix_ink_payout_agreement_date", "ink_payout", ["agreement_id", "payment_date"]),
]


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)
    with op.batch_alter_table("ink_file_log") as batch:
        batch.add_column(sa.Column("handled_state", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("handled_note", sa.Text(), nullable=True))
        batch.add_column(sa.Column("handled_by", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("handled_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "ink_ui_action",
        sa.Column("action_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("username", sa.String(length=100), nullable=False),
        sa.Column("action", sa.String(length=30), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=True),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("dag_id", sa.String(length=100), nullable=True),
        sa.Column("dag_run_id", sa.String(length=250), nullable=True),
        sa.Column("outcome", sa.String(length=20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("action_id", name=op.f("pk_ink_ui_action")),
    )
    op.create_index("ix_ink_ui_action_at", "ink_ui_action", ["at"], unique=False)


def downgrade() -> None:
    op.drop_table("ink_ui_action")
    with op.batch_alter_table("ink_file_log") as batch:
        batch.drop_column("handled_at")
        batch.drop_column("handled_by")
        batch.drop_column("handled_note")
        batch.drop_column("handled_state")
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
