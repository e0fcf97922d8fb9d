"""Outgoing files at rest: a name no earlier file of the agreement has, and no overwriting.

Agencies name files by time (Lowell: to the second, Preventia: to the minute), so two files made
close together could get the same name; the second would overwrite the first in the outbox and
be refused (or worse, taken for the first) by the agency. The name is moved on instead.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, select

from inkasso.db.schema import ink_file_log

LOCAL_TZ = ZoneInfo("Europe/Oslo")
_BATCH = 120  # candidate seconds looked up per query
_MAX_SECONDS = 24 * 3600


def free_file_name(
    conn: Connection, agreement_id: str, customer_no: str, spec, now: datetime, folder
):
    """The profile's name for ``now`` (Europe/Oslo), or for the first later second whose name is
    neither in the agreement's outgoing file log nor already in ``folder``. Returns (name, path)."""
    when = now.astimezone(LOCAL_TZ)
    for start in range(0, _MAX_SECONDS, _BATCH):
        candidates = list(
            dict.fromkeys(
                spec.file_name(customer_no, when + timedelta(seconds=s))
                for s in range(start, start + _BATCH)
            )
        )
        taken = set(
            conn.execute(
                select(ink_file_log.c.file_name).where(
                    ink_file_log.c.agreement_id == agreement_id,
                    ink_file_log.c.direction == "out",
                    ink_file_log.c.file_name.in_(candidates),
                )
            ).scalars()
        )
        for name in candidates:
            if name not in taken and not (folder / name).exists():
                return name, folder / name
    raise RuntimeError(f"{agreement_id}: no free file name within a day of {when.isoformat()}")


def write_new_file(path, data: bytes) -> None:
    """Write ``data`` to ``path``, which must not exist: a file at rest is never overwritten."""
    if path.exists():
        raise FileExistsError(f"{path} already exists; an outgoing file is never overwritten")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def log_outgoing_file(
    conn: Connection,
    agreement,
    kind: str,
    business_date,
    file_name: str,
    path,
    *,
    now: datetime,
    run_id: str | None = None,
    record_count: int = 0,
    amount_total: int = 0,
) -> int:
    """Log an outgoing file as ``written`` before its bytes exist (checksum and size follow in the
    same transaction, once it is written); returns its ``file_id``."""
    from sqlalchemy import insert

    return conn.execute(
        insert(ink_file_log).values(
            agreement_id=agreement.agreement_id,
            client_id=agreement.client_id,
            direction="out",
            kind=kind,
            file_name=file_name,
            business_date=business_date,
            status="written",
            path=str(path),
            sha256="",
            size_bytes=0,
            record_count=record_count,
            amount_total=amount_total,
            run_id=run_id,
            created_at=now,
        )
    ).inserted_primary_key[0]
