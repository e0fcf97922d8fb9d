"""Cheaper case rows: one foreign key on (file, agreement) instead of two, and the agency
reference index only for cases that have one, no index on status alone

Revision ID: 0009_case_write_cost
Revises: 0008_delivery_claim
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_case_write_cost"
down_revision = "0008_delivery_claim"
branch_labels = None
depends_on = None

FILE_FK = "fk_ink_case_file_id_ink_file_log"
AGREEMENT_FK = "fk_ink_case_agreement_id_ink_agreement"
REF_INDEX = "ix_ink_case_agency_case_ref"
NOT_NULL = "agency_case_ref IS NOT NULL"
STATUS_INDEX = ("ix_ink_case_status_day", ["status", "business_date", "case_id"])


def _replace_case_fks(old: list[tuple], new: list[tuple]) -> None:
    """Swap ink_case's foreign keys: (name, columns, referred columns) each."""
    # SQLite rebuilds ink_case for this (env.py turns its foreign keys off meanwhile)
    with op.batch_alter_table("ink_case") as batch:
        for name, _cols, _refs in old:
            batch.drop_constraint(name, type_="foreignkey")
        for name, cols, refs in new:
            batch.create_foreign_key(name, refs[0], cols, refs[1])


def upgrade() -> None:
    op.create_index(
        "ux_ink_file_log_file_agreement", "ink_file_log", ["file_id", "agreement_id"], unique=True
    )
    _replace_case_fks(
        [(AGREEMENT_FK, None, None), (FILE_FK, None, None)],
        [(FILE_FK, ["file_id", "agreement_id"], ("ink_file_log", ["file_id", "agreement_id"]))],
    )
    op.drop_index(REF_INDEX, table_name="ink_case")
    op.create_index(
        REF_INDEX,
        "ink_case",
        ["agency_case_ref"],
        sqlite_where=sa.text(NOT_NULL),
        postgresql_where=sa.text(NOT_NULL),
    )
    op.drop_index(STATUS_INDEX[0], table_name="ink_case")


def downgrade() -> None:
    op.create_index(STATUS_INDEX[0], "ink_case", STATUS_INDEX[1])
    op.drop_index(REF_INDEX, table_name="ink_case")
    op.create_index(REF_INDEX, "ink_case", ["agency_case_ref"])
    _replace_case_fks(
        [(FILE_FK, None, None)],
        [
            (AGREEMENT_FK, ["agreement_id"], ("ink_agreement", ["agreement_id"])),
            (FILE_FK, ["file_id"], ("ink_file_log", ["file_id"])),
        ],
    )
    op.drop_index("ux_ink_file_log_file_agreement", table_name="ink_file_log")
