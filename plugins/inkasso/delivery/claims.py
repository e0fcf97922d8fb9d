"""Claims on outgoing files: one deliverer per file, a killed deliverer's claim resumed.

A file is claimed (``delivering``, who and when, committed) before it is uploaded. Each claim is
one conditional UPDATE, so of two deliverers one gets the row, never both; a claim whose
deliverer is gone (``inkasso.locks.claim_abandoned``) is taken over.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import Engine, select, update

from inkasso.db.schema import ink_file_log
from inkasso.locks import claim_abandoned, sqlite_write_lock

log = logging.getLogger(__name__)


def claim_pending(engine: Engine, agreement_id: str, claim) -> tuple[list, list[str]]:
    """Claim the agreement's undelivered files (and those of a gone deliverer) for ``claim``.

    Returns (the claimed file log rows in file order, names another live deliverer holds).
    Each claim is one conditional UPDATE: of two deliverers, one gets a row, never both.
    """
    t = ink_file_log
    mine, busy = [], []
    with engine.begin() as conn:
        sqlite_write_lock(conn)  # reads, then claims: one writer from the start on SQLite
        candidates = conn.execute(
            select(t.c.file_id, t.c.file_name, t.c.status, t.c.claimed_by, t.c.claimed_at)
            .where(
                t.c.agreement_id == agreement_id,
                t.c.direction == "out",
                t.c.status.in_(["written", "delivering"]),
            )
            .order_by(t.c.file_id)
        ).all()
        for row in candidates:
            if row.status == "delivering":
                if not claim_abandoned(conn, row.claimed_by, row.claimed_at):
                    busy.append(row.file_name)
                    continue
                log.warning(
                    "%s: %s was claimed by %s at %s, which is gone; resuming its delivery",
                    agreement_id,
                    row.file_name,
                    row.claimed_by,
                    row.claimed_at,
                )
            got = conn.execute(
                update(t)
                .where(
                    t.c.file_id == row.file_id,
                    t.c.status == row.status,
                    t.c.claimed_by.is_not_distinct_from(row.claimed_by),
                )
                .values(status="delivering", claimed_by=claim.who, claimed_at=datetime.now(UTC))
            ).rowcount
            (mine if got else busy).append(row.file_id if got else row.file_name)
    if not mine:
        return [], busy
    with engine.connect() as conn:
        rows = conn.execute(select(t).where(t.c.file_id.in_(mine)).order_by(t.c.file_id))
        return list(rows.mappings()), busy


def release_claims(engine: Engine, claim, file_ids: list[int]) -> None:
    """Hand this deliverer's unfinished claims back (``written``) for the next run."""
    t = ink_file_log
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.file_id.in_(file_ids), t.c.status == "delivering")
            .where(t.c.claimed_by == claim.who)
            .values(status="written", claimed_by=None, claimed_at=None)
        )
