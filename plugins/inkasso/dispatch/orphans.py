"""Orphan new-case files: written into the outbox by a prepare that was killed before its commit.

``prepare_new_cases`` writes the file, then commits the file log and the cases in one
transaction. A hard kill (OOM, SIGKILL, a lost worker) between the two leaves a file in
``<base>/outbox/<agreement>/`` that no ``ink_file_log`` row describes: it is never sent, but it is
junk and a name-collision risk. The next prepare of that agreement and day settles it inside
its own transaction, once it holds the day's slot (the unique daily new-case index), so no
other live run can be writing that file:

- a file with exactly the bytes this run would write is *adopted*: the run's file-log row takes
  its name and path, nothing new is written;
- any other file of that agreement and day is *removed*.

A file is "of that day" when its header's ``file_date`` is the business date. A file that does
not parse (cut off by the kill) has no day: it is removed once it is older than
``UNREADABLE_AGE`` seconds, so that a file another run is writing this very moment is never
touched. Every decision is logged (task log, and the ``detail`` of the run's file-log row).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import Connection, select

from inkasso.db.schema import ink_file_log
from inkasso.formats.errors import FormatError

log = logging.getLogger(__name__)

UNREADABLE_AGE = 3600


@dataclass
class Orphans:
    """What was done with the orphans of one agreement and day."""

    adopted: object | None = None  # the path taken over as this run's file
    notes: list[str] = field(default_factory=list)


def _age_seconds(path) -> float | None:
    try:
        mtime = path.stat().get("mtime")
    except (OSError, AttributeError):
        return None
    if mtime is None:
        return None
    # a file's modification time (a datetime, or epoch seconds from some filesystems): not money
    stamp = mtime.timestamp() if hasattr(mtime, "timestamp") else mtime
    return time.time() - stamp


def _sha256(raw: bytes) -> str:
    import hashlib

    return hashlib.sha256(raw).hexdigest()


def settle_orphans(
    conn: Connection,
    agreement,
    spec,
    layout,
    business_date: date,
    folder,
    data: bytes | None,
    *,
    sha256: str | None = None,
) -> Orphans:
    """Adopt or remove the unlogged new-case files of ``agreement`` and ``business_date`` in
    ``folder`` (see module doc). ``data`` is what this run writes, or ``sha256`` its checksum
    (a file streamed to disk); both None: it writes nothing."""
    result = Orphans()
    if not folder.exists():
        return result
    logged = set(
        conn.execute(
            select(ink_file_log.c.file_name).where(
                ink_file_log.c.agreement_id == agreement.agreement_id,
                ink_file_log.c.direction == "out",
            )
        ).scalars()
    )
    for path in sorted(folder.iterdir(), key=lambda p: p.name):
        name = path.name
        if name in logged or not spec.matches(name, agreement.customer_no_at_agency):
            continue
        raw = path.read_bytes()
        try:
            day = layout.read(raw, name).header.get("file_date")
        except FormatError:
            age = _age_seconds(path)
            if age is None or age < UNREADABLE_AGE:
                note = f"left unreadable unlogged file {name} (too recent to be an orphan)"
                log.warning("%s: %s", agreement.agreement_id, note)
                result.notes.append(note)
                continue
            day = None
        else:
            if str(day)[:10] != business_date.isoformat():
                continue  # another day's: that day's rerun settles it
        same = (raw == data) if data is not None else _sha256(raw) == sha256
        if day is not None and (data or sha256) and result.adopted is None and same:
            result.adopted = path
            note = f"adopted orphan {name}: its bytes are this run's file"
        else:
            path.unlink()
            why = "unreadable" if day is None else "not this run's bytes"
            note = f"removed orphan {name} ({why}; left by a prepare killed before its commit)"
        log.warning("%s: %s", agreement.agreement_id, note)
        result.notes.append(note)
    return result
