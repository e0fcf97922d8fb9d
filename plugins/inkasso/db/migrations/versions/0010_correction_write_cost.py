"""Cheaper correction rows: one foreign key on (file, agreement) instead of two, and a
correction always names the file it is reported in

Revision ID: 0010_correction_write_cost
Revises: 0009_case_write_cost
"""

import sqlalchemy as sa
from alembic import op

revision = "0010_correction_write_cost"
down_revision = "0009_case_write_cost"
branch_labels = None
depends_on = None

FILE_FK = "fk_ink_correction_file_id_ink_file_log"
AGREEMENT_FK = "fk_ink_correction_agreement_id_ink_agreement"


def _refuse_unreported() -> None:
    """Corrections are recorded with the file that reports them, in its transaction; a row
    without a file would lose its agreement's check under the new key, so it stops the upgrade
    (named) instead of being changed here."""
    count = (
        op.get_bind()
        .execute(sa.text("SELECT COUNT(*) FROM ink_correction WHERE file_id IS NULL"))
        .scalar_one()
    )
    if count:
        raise RuntimeError(
            f"ink_correction holds {count} rows without a file (file_id NULL): give each its"
            " correction file, or remove it, before upgrading to 0010_correction_write_cost"
        )


def upgrade() -> None:
    _refuse_unreported()
    # SQLite rebuilds ink_correction for this (env.py turns its foreign keys off meanwhile)
    with op.batch_alter_table("ink_correction") as batch:
        batch.drop_constraint(AGREEMENT_FK, type_="foreignkey")
        batch.drop_constraint(FILE_FK, type_="foreignkey")
        batch.alter_column("file_id", existing_type=sa.Integer(), nullable=False)
        batch.create_foreign_key(
            FILE_FK, "ink_file_log", ["file_id", "agreement_id"], ["file_id", "agreement_id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("ink_correction") as batch:
        batch.drop_constraint(FILE_FK, type_="foreignkey")
        batch.alter_column("file_id", existing_type=sa.Integer(), nullable=True)
        batch.create_foreign_key(FILE_FK, "ink_file_log", ["file_id"], ["file_id"])
        batch.create_foreign_key(AGREEMENT_FK, "ink_agreement", ["agreement_id"], ["agreement_id"])
