"""Step 4: applied files leave the agency's outbox for its processed folder (one connection).

Only applied files move: a quarantined or flagged file stays in the outbox until a person has
sorted it out with the agency. A profile without a processed folder (the agency cleans up
itself) leaves every file where it is. Safe to repeat: a file already moved is not an error.
"""

from __future__ import annotations

import logging
import posixpath
from datetime import date

from sqlalchemy import Engine, literal, select, update

from inkasso.db.schema import ink_file_log
from inkasso.formats import load_profile
from inkasso.inbound.agreements import InboundAgreement

log = logging.getLogger(__name__)


def move_applied(
    engine: Engine,
    agreement: InboundAgreement,
    business_date: date,
    also: list[str] | tuple[str, ...] = (),
) -> list[str]:
    """Move the agreement's applied files still in the outbox (and ``also``) to processed_dir.

    Returns the names moved. The file log's ``remote_path`` follows the file.
    """
    from inkasso.transport import _rename, _sftp, _stat_or_none

    remote = load_profile(agreement.agency).remote
    if not remote.processed_dir:
        return []
    outbox = remote.outbox_dir
    t = ink_file_log
    with engine.connect() as conn:
        rows = conn.execute(
            select(t.c.file_id, t.c.file_name).where(
                t.c.agreement_id == agreement.agreement_id,
                t.c.direction == "in",
                t.c.status == "applied",
                t.c.business_date <= business_date,
                t.c.remote_path == literal(outbox.rstrip("/") + "/") + t.c.file_name,
            )
        ).all()
    names = sorted({r.file_name for r in rows} | set(also))
    if not names:
        return []
    moved = []
    with _sftp(agreement.sftp_conn_id, f"moving files to {remote.processed_dir}", 3) as (
        client,
        session,
    ):
        for name in names:
            src = posixpath.join(outbox, name)
            dst = posixpath.join(remote.processed_dir, name)
            session.step = f"moving {src} to {dst}"
            if _stat_or_none(client, src) is not None:
                _rename(client, src, dst)  # posix-rename, or a plain rename without it
                moved.append(name)
    if rows:
        with engine.begin() as conn:
            conn.execute(
                update(t)
                .where(t.c.file_id.in_([r.file_id for r in rows]))
                .values(remote_path=literal(remote.processed_dir.rstrip("/") + "/") + t.c.file_name)
            )
    log.info("%s: moved %s to %s", agreement.agreement_id, moved, remote.processed_dir)
    return moved
