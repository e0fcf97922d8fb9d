"""The name a bank file's payments carry in the ERP: ``erp_payment.bank_file``.

``erp_payment`` is unique on (``bank_file``, ``payment_ref``), and payment references repeat from
file to file (BgMax falls back to ``L<line>``; OCR giro numbers transactions per assignment),
while banks reuse file names (one name a day, a counter that wraps). So a file's payments carry
its own name only the first time the name is seen; when it was seen before (the client booked an
earlier bank file of that name, or ``erp_payment`` already holds payments under it: another
client's file, a closure file) they carry ``<name>#<file_id>``, the file's ``ink_file_log`` id.
Every ``bank_file`` value is then one file's, and a file's rerun finds its own rows.
"""

from __future__ import annotations

from sqlalchemy import Connection, String, cast, exists, func, literal, select, text, union
from sqlalchemy.sql import Select

from inkasso.db.schema import erp_payment, ink_file_log

SEPARATOR = "#"
_WIDTH = erp_payment.c.bank_file.type.length  # 200
_KINDS = ("ocr_giro", "bgmax")
# advisory lock namespace of a bank file name (beside inkasso.locks.OUTGOING_NAMESPACE)
NAME_NAMESPACE = 7302


def qualified(file_name: str, file_id: int) -> str:
    """``<name>#<file_id>``, the name shortened so that the whole fits ``erp_payment.bank_file``."""
    suffix = f"{SEPARATOR}{file_id}"
    return file_name[: _WIDTH - len(suffix)] + suffix


def _earlier_applied(client_id, file_name, file_id):
    """An applied bank file of the client with this name, logged before ``file_id``."""
    f = ink_file_log.alias("earlier")
    return exists().where(
        f.c.client_id == client_id,
        f.c.direction == "in",
        f.c.kind.in_(_KINDS),
        f.c.status == "applied",
        f.c.file_name == file_name,
        f.c.file_id < file_id,
    )


def erp_bank_file(conn: Connection, client_id: int, file_name: str, file_id: int) -> str:
    """The ``bank_file`` the payments of the logged bank file ``file_id`` are recorded under.

    PostgreSQL: two clients' files of one name booked at the same time would both see the name
    free and the second fail on the unique key; a lock on the name, held to the end of the
    transaction, makes the second wait and then see it taken.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:name))"),
            {"ns": NAME_NAMESPACE, "name": file_name},
        )
    in_use = exists().where(erp_payment.c.bank_file == file_name)
    seen = conn.execute(select(in_use | _earlier_applied(client_id, file_name, file_id))).scalar()
    return qualified(file_name, file_id) if seen else file_name


def erp_names_by_file(file_ids: Select) -> Select:
    """(``file_id``, ``client_id``, ``bank_file``) of the logged bank files ``file_ids`` (a
    subquery of ids): each file's qualified name, and its plain name when it is the client's
    first applied file of that name (a later one never books under it). Join the payments on
    client and ``bank_file``."""
    f = ink_file_log
    suffix = literal(SEPARATOR) + cast(f.c.file_id, String)
    name = func.substr(f.c.file_name, 1, _WIDTH - func.length(suffix)) + suffix
    first = (f.c.status == "applied") & ~_earlier_applied(f.c.client_id, f.c.file_name, f.c.file_id)
    return union(
        select(f.c.file_id, f.c.client_id, name.label("bank_file")).where(
            f.c.file_id.in_(file_ids)
        ),
        select(f.c.file_id, f.c.client_id, f.c.file_name.label("bank_file")).where(
            f.c.file_id.in_(file_ids), first
        ),
    )


def erp_names(file_ids: Select) -> Select:
    """The ``erp_payment.bank_file`` values of the logged bank files ``file_ids`` (see
    `erp_names_by_file`). Filter the payments by client too."""
    names = erp_names_by_file(file_ids).subquery()
    return select(names.c.bank_file).distinct()
