"""report: the Airflow run that sent a mail attempt (a resend is one new attempt per run)

Revision ID: 0002_report
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_report"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("ink_mail_log") as batch:
        batch.add_column(sa.Column("run_id", sa.String(length=250), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ink_mail_log") as batch:
        batch.drop_column("run_id")
