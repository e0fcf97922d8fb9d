"""Step 4: applied files leave the source for its processed folder: the agency's SFTP outbox
(one connection) or the manual inbox (``manual_inbox/<agreement>/processed/``).

Only applied files move: a quarantined or flagged file stays where it arrived until a person has
sorted it out with the agency (in the manual inbox, what is left is what a person still has to
look at). A profile without a processed folder (the agency cleans up its outbox itself) leaves
every SFTP file where it is. Safe to repeat: a file already moved is not an error.
"""

from __future__ import annotations

import logging
from datetime import date

from sqlalchemy import Engine, literal, select, update

from inkasso.agreements import Agreement
from inkasso.db.schema import ink_file_log
from inkasso.inbound.sources import source_for

log = logging.getLogger(__name__)


def move_applied(
    engine: Engine,
    agreement: Agreement,
    business_date: date,
    also: list[str] | tuple[str, ...] = (),
    base=None,
) -> list[str]:
    """Move the agreement's applied files still in the source (and ``also``) to processed.

    ``base`` (the files base) is needed for manual agreements' inbox. Returns the names moved.
    The file log's ``remote_path`` follows the file.
    """
    source = source_for(agreement, base)
    if not source.processed_prefix:
        return []
    t = ink_file_log
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.file_id, t.c.file_name).where(
                t.c.agreement_id == agreement.agreement_id,
                t.c.direction == "in",
                t.c.status == "applied",
                t.c.business_date <= business_date,
                t.c.remote_path == literal(source.prefix) + t.c.file_name,
            )
        ).all()
    names = sorted({r.file_name for r in rows} | set(also))
    if not names:
        return []
    moved = source.move(names)
    if rows:
        with engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.file_id.in_([r.file_id for r in rows]))
                .values(remote_path=literal(source.processed_prefix) + t.c.file_name)
            )
    log.info("%s: moved %s to %s", agreement.agreement_id, moved, source.processed_prefix)
    return moved
