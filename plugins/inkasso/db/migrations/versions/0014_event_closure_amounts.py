"""A closure event's totals as integer columns (``ink_case_event.collected_amount``,
``remaining_amount``, øre): a backfilled day's mail reads a closure's amounts from them, no
longer out of the event's detail text. The events written before are filled here, in one
set-based UPDATE, from their detail (``collected <øre>, remaining <øre>``, as the inbound apply
wrote it; ``<NA>``, an amount the file left blank, stays NULL), so old days report as before

Revision ID: 0014_event_closure_amounts
Revises: 0013_bank_notices
"""

import re

import sqlalchemy as sa
from alembic import op

revision = "0014_event_closure_amounts"
down_revision = "0013_bank_notices"
branch_labels = None
depends_on = None

# the kinds of event a closure record that changed its case wrote (the file's status codes, and
# more collected on a case already ended); only these carry totals in their detail
CLOSURE_KINDS = ("paid", "partly_paid", "closed", "recalled", "uncollectible")
KINDS = ", ".join(f"'{k}'" for k in (*CLOSURE_KINDS, "collected_after_closure"))
AMOUNT = r"(-?[0-9]+|<NA>)"
TOTALS = re.compile(rf"collected {AMOUNT}, remaining {AMOUNT}")
# PostgreSQL: substring(... FROM pattern) gives the first parenthesised group of the match
PG_GROUP = {
    1: rf"collected {AMOUNT}, remaining (?:-?[0-9]+|<NA>)",
    2: rf"collected (?:-?[0-9]+|<NA>), remaining {AMOUNT}",
}


def _total(detail: str | None, group: int) -> int | None:
    """SQLite's ``closure_total(detail, n)``: the n-th total in a closure's detail, or NULL."""
    found = TOTALS.search(detail or "")
    text = found.group(group) if found else "<NA>"
    return None if text == "<NA>" else int(text)


def _backfill(bind) -> None:
    """Fill the new columns of the closure events from their detail text, in one UPDATE."""
    where = f"kind IN ({KINDS}) AND detail LIKE '%collected %, remaining %'"
    if bind.dialect.name == "postgresql":
        amount = {
            n: f"CAST(NULLIF(substring(detail FROM '{p}'), '<NA>') AS BIGINT)"
            for n, p in PG_GROUP.items()
        }
    else:
        bind.connection.driver_connection.create_function(
            "closure_total", 2, _total, deterministic=True
        )
        amount = {n: f"closure_total(detail, {n})" for n in (1, 2)}
    op.execute(
        f"UPDATE ink_case_event SET collected_amount = {amount[1]},"
        f" remaining_amount = {amount[2]} WHERE {where}"
    )


def upgrade() -> None:
    op.add_column("ink_case_event", sa.Column("collected_amount", sa.BigInteger()))
    op.add_column("ink_case_event", sa.Column("remaining_amount", sa.BigInteger()))
    _backfill(op.get_bind())


def downgrade() -> None:
    with op.batch_alter_table("ink_case_event") as batch:
        batch.drop_column("remaining_amount")
        batch.drop_column("collected_amount")
