"""pipeline tables

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the first schema.

    Long because it declares every table of the first schema; migrations are never edited
    once released.
    """
    op.create_table(
        "ink_agreement",
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("agency", sa.String(length=30), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=False),
        sa.Column("customer_no_at_agency", sa.String(length=20), nullable=False),
        sa.Column("agency_bank_account", sa.String(length=35), nullable=False),
        sa.Column("payback_account", sa.String(length=35), nullable=True),
        sa.Column("mode", sa.String(length=10), nullable=False),
        sa.Column("sftp_conn_id", sa.String(length=100), nullable=True),
        sa.Column("reminder_service", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("interim_account", sa.String(length=10), server_default="1684", nullable=False),
        sa.Column("settle_on_closure", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("active", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.PrimaryKeyConstraint("agreement_id", name=op.f("pk_ink_agreement")),
    )
    op.create_table(
        "ink_mail_log",
        sa.Column("mail_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="1", nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("html_path", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("mail_id", name=op.f("pk_ink_mail_log")),
        sa.UniqueConstraint(
            "client_id",
            "business_date",
            "attempt",
            name=op.f("uq_ink_mail_log_client_id_business_date_attempt"),
        ),
    )
    op.create_table(
        "ink_run_issue",
        sa.Column("issue_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("dag_id", sa.String(length=100), nullable=False),
        sa.Column("task_id", sa.String(length=250), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_ink_run_issue")),
    )
    with op.batch_alter_table("ink_run_issue", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_ink_run_issue_business_date"), ["business_date"], unique=False
        )

    op.create_table(
        "ink_dispatch_hold",
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_dispatch_hold_agreement_id_ink_agreement"),
        ),
        sa.PrimaryKeyConstraint(
            "agreement_id", "business_date", "invoice_id", name=op.f("pk_ink_dispatch_hold")
        ),
    )
    op.create_table(
        "ink_file_log",
        sa.Column("file_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=True),
        sa.Column("direction", sa.String(length=3), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("file_name", sa.String(length=200), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("record_count", sa.Integer(), nullable=False),
        sa.Column("amount_total", sa.BigInteger(), nullable=False),
        sa.Column("remote_path", sa.Text(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("run_id", sa.String(length=250), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_file_log_agreement_id_ink_agreement"),
        ),
        sa.PrimaryKeyConstraint("file_id", name=op.f("pk_ink_file_log")),
        sa.UniqueConstraint(
            "client_id",
            "direction",
            "file_name",
            "sha256",
            name=op.f("uq_ink_file_log_client_id_direction_file_name_sha256"),
        ),
    )
    with op.batch_alter_table("ink_file_log", schema=None) as batch_op:
        batch_op.create_index(
            "ux_ink_file_log_daily_out",
            ["agreement_id", "kind", "business_date"],
            unique=True,
            sqlite_where=sa.text("direction = 'out' AND kind = 'new_cases'"),
            postgresql_where=sa.text("direction = 'out' AND kind = 'new_cases'"),
        )

    op.create_table(
        "ink_payout",
        sa.Column("payout_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("payment_id", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column(
            "reconciliation", sa.String(length=20), server_default="unreconciled", nullable=False
        ),
        sa.Column("settled_amount", sa.BigInteger(), nullable=True),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_payout_agreement_id_ink_agreement"),
        ),
        sa.PrimaryKeyConstraint("payout_id", name=op.f("pk_ink_payout")),
        sa.UniqueConstraint("payment_id", name=op.f("uq_ink_payout_payment_id")),
    )
    op.create_table(
        "ink_case",
        sa.Column("case_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("invoice_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("is_open", sa.Boolean(), server_default=sa.true(), nullable=False),
        sa.Column("agency_case_ref", sa.String(length=40), nullable=True),
        sa.Column("rejection_reason", sa.Text(), nullable=True),
        sa.Column("original_amount", sa.BigInteger(), nullable=False),
        sa.Column("sent_amount", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("collected_amount", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("closed_remaining_amount", sa.BigInteger(), nullable=True),
        sa.Column("closed_date", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_case_agreement_id_ink_agreement"),
        ),
        sa.ForeignKeyConstraint(
            ["file_id"], ["ink_file_log.file_id"], name=op.f("fk_ink_case_file_id_ink_file_log")
        ),
        sa.PrimaryKeyConstraint("case_id", name=op.f("pk_ink_case")),
    )
    with op.batch_alter_table("ink_case", schema=None) as batch_op:
        batch_op.create_index(
            "ux_ink_case_open_invoice",
            ["invoice_id"],
            unique=True,
            sqlite_where=sa.text("is_open = 1"),
            postgresql_where=sa.text("is_open"),
        )

    op.create_table(
        "ink_file_issue",
        sa.Column("issue_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=True),
        sa.Column("field", sa.String(length=60), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["ink_file_log.file_id"],
            name=op.f("fk_ink_file_issue_file_id_ink_file_log"),
        ),
        sa.PrimaryKeyConstraint("issue_id", name=op.f("pk_ink_file_issue")),
    )
    with op.batch_alter_table("ink_file_issue", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ink_file_issue_file_id"), ["file_id"], unique=False)

    op.create_table(
        "ink_case_event",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ink_case.case_id"], name=op.f("fk_ink_case_event_case_id_ink_case")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["ink_file_log.file_id"],
            name=op.f("fk_ink_case_event_file_id_ink_file_log"),
        ),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_ink_case_event")),
    )
    with op.batch_alter_table("ink_case_event", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ink_case_event_case_id"), ["case_id"], unique=False)

    op.create_table(
        "ink_correction",
        sa.Column("correction_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("agreement_id", sa.String(length=40), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("correction_type", sa.String(length=2), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("correction_date", sa.Date(), nullable=False),
        sa.Column("file_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agreement_id"],
            ["ink_agreement.agreement_id"],
            name=op.f("fk_ink_correction_agreement_id_ink_agreement"),
        ),
        sa.ForeignKeyConstraint(
            ["case_id"], ["ink_case.case_id"], name=op.f("fk_ink_correction_case_id_ink_case")
        ),
        sa.ForeignKeyConstraint(
            ["file_id"],
            ["ink_file_log.file_id"],
            name=op.f("fk_ink_correction_file_id_ink_file_log"),
        ),
        sa.PrimaryKeyConstraint("correction_id", name=op.f("pk_ink_correction")),
        sa.UniqueConstraint("source", "source_id", name=op.f("uq_ink_correction_source_source_id")),
    )


def downgrade() -> None:
    op.drop_table("ink_correction")
    with op.batch_alter_table("ink_case_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ink_case_event_case_id"))

    op.drop_table("ink_case_event")
    with op.batch_alter_table("ink_file_issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ink_file_issue_file_id"))

    op.drop_table("ink_file_issue")
    with op.batch_alter_table("ink_case", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_ink_case_open_invoice",
            sqlite_where=sa.text("is_open = 1"),
            postgresql_where=sa.text("is_open"),
        )

    op.drop_table("ink_case")
    op.drop_table("ink_payout")
    with op.batch_alter_table("ink_file_log", schema=None) as batch_op:
        batch_op.drop_index(
            "ux_ink_file_log_daily_out",
            sqlite_where=sa.text("direction = 'out' AND kind = 'new_cases'"),
            postgresql_where=sa.text("direction = 'out' AND kind = 'new_cases'"),
        )

    op.drop_table("ink_file_log")
    op.drop_table("ink_dispatch_hold")
    with op.batch_alter_table("ink_run_issue", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ink_run_issue_business_date"))

    op.drop_table("ink_run_issue")
    op.drop_table("ink_mail_log")
    op.drop_table("ink_agreement")
