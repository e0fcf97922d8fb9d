"""Locks that keep concurrent runs from doing the same work twice or reading each other half-way.

Airflow may run the same step twice at once (overlapping runs, a backfill that ignores
``max_active_runs``, a retry beside a zombie), and two steps that touch the same invoices (the
bank import beside a dispatch). These locks stop that:

``lock_outgoing``
    Inside the transaction that writes an agreement's outgoing file (new cases, corrections):
    the second writer waits until the first has committed, then sees its file log row and ends
    cleanly (``exists`` / nothing to report) instead of failing on a unique index or writing a
    second file. PostgreSQL: a transaction-level advisory lock keyed on the agreement (it does
    not touch the agreement row, so inserts referencing it and the inbound fetch lock are not
    blocked). SQLite: ``BEGIN IMMEDIATE``, the database's single write lock.

``lock_inbound``
    Inside the transaction that applies an agency's answer file: two runs of one agreement (a
    backfill of an earlier day beside today's run) apply their files one after the other, each
    reading the cases as the other left them. A closure's collected amount is a total to date,
    and what it adds is computed against the case: read before the other committed, the same
    money would be counted twice. The corrections run holds it too (after ``lock_outgoing``,
    always in that order), so no case ends between its two reads of which cases are open.
    PostgreSQL: an advisory lock keyed on the agreement; SQLite: ``BEGIN IMMEDIATE``.

``lock_books``
    Per client, inside the transaction that books a bank file's payments on the ERP's invoices
    (``inkasso.bank.importer``) and the one that opens new cases (``inkasso.dispatch.prepare``),
    taken before either reads the invoices or cases. Whether the agency is told of a direct
    payment depends on ``erp_payment.booked_at >= ink_case.opened_at`` (before: the payment was
    taken off the amount sent; after: it is reported as a correction). With the two serialized,
    a payment booked before a dispatch's read committed before it, so the dispatch saw it; and
    inside the lock both stamps follow the commit order, not the tasks' start times
    (`inkasso.stamps`), so the comparison says what dispatch read. PostgreSQL: an advisory lock
    keyed on the client (namespace 7305); SQLite: ``BEGIN IMMEDIATE``. The ERP's own bookings
    (a payment or credit note it registers itself) take no such lock: the README says so.

``DeliveryClaim``
    A deliverer's identity (host, process, token) written into the file log rows it claims
    (``status = 'delivering'``) before it uploads them, and proof that it is still alive: on
    PostgreSQL it holds a session advisory lock keyed on its token for as long as it delivers (a
    killed process loses its session and so the lock); on the same host a dead process id says
    the same; otherwise a claim older than ``CLAIM_LEASE`` counts as abandoned.

Order: a transaction takes these locks only in this order, so two never wait for each other
in a circle (no deadlock):
``lock_outgoing`` (agreement) before ``lock_inbound`` (agreement) and before ``lock_books``
(client); the bank import's lock on a file's bytes (``inkasso.bank.importer``, namespace 7303)
before ``lock_books``, and ``lock_books`` before its lock on a bank file name
(``inkasso.bank.names``, 7302). Nothing waits for another of these while holding ``lock_books``
but that name lock, which nobody holds while waiting. On SQLite they are all one write lock.
"""

from __future__ import annotations

import os
import socket
import threading
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, text

# advisory lock namespaces (first key of pg_advisory_xact_lock(int, int))
OUTGOING_NAMESPACE = 7301
INBOUND_NAMESPACE = 7304
BOOKS_NAMESPACE = 7305  # keyed on the client (7302, 7303: the bank import's name and bytes)
# a claim nobody can prove alive (SQLite, another host) is taken over after this long
CLAIM_LEASE = timedelta(hours=2)

_LIVE_TOKENS: set[str] = set()  # claims of deliverers running in this process (threads)
_LIVE_LOCK = threading.Lock()


def lock_outgoing(conn: Connection, agreement_id: str) -> None:
    """Hold the agreement's outgoing-file lock until ``conn``'s transaction ends.

    Call it first in the transaction, before anything is read: a waiter then reads what the
    winner committed. SQLite: takes the write lock now (``BEGIN IMMEDIATE``; other writers wait
    up to the busy timeout); a transaction that has already written holds it already.
    """
    _agreement_lock(conn, OUTGOING_NAMESPACE, agreement_id)


def lock_inbound(conn: Connection, agreement_id: str) -> None:
    """Hold the agreement's inbound-apply lock until ``conn``'s transaction ends; call it first
    in the transaction, before anything is read (see module doc)."""
    _agreement_lock(conn, INBOUND_NAMESPACE, agreement_id)


def lock_books(conn: Connection, client_id: int) -> None:
    """Hold the client's lock on booking payments and opening cases until ``conn``'s
    transaction ends; take it before reading the client's invoices, payments or cases (see
    module doc). SQLite: the write lock, as `lock_outgoing`."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:ns, :client)"),
            {"ns": BOOKS_NAMESPACE, "client": int(client_id)},
        )
        return
    sqlite_write_lock(conn)


def _agreement_lock(conn: Connection, namespace: int, agreement_id: str) -> None:
    """PostgreSQL: a transaction-level advisory lock on (namespace, agreement); SQLite: the
    database's write lock (`sqlite_write_lock`)."""
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:agreement))"),
            {"ns": namespace, "agreement": agreement_id},
        )
        return
    sqlite_write_lock(conn)


def sqlite_write_lock(conn: Connection) -> None:
    """SQLite: begin ``conn``'s transaction as the writer now (``BEGIN IMMEDIATE``); elsewhere
    nothing. A transaction that reads first and writes later would otherwise fail at once with
    "database is locked" when another writer committed in between (no busy wait for that)."""
    if conn.dialect.name != "sqlite":
        return
    if not conn.connection.dbapi_connection.in_transaction:  # pysqlite begins only before DML
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def _key(token: str) -> int:
    """A signed 64-bit advisory lock key from a claim token (hex)."""
    return int.from_bytes(bytes.fromhex(token)[:8], "big", signed=True)


class DeliveryClaim:
    """This deliverer's claim on files (see module doc); use as a context manager."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.token = uuid.uuid4().hex[:16]
        self.who = f"{socket.gethostname()}:{os.getpid()}:{self.token}"
        self._conn: Connection | None = None

    def __enter__(self) -> DeliveryClaim:
        with _LIVE_LOCK:
            _LIVE_TOKENS.add(self.token)
        if self.engine.dialect.name == "postgresql":
            # autocommit: a session lock held by an idle connection, never "idle in transaction"
            self._conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._conn.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _key(self.token)})
        return self

    def __exit__(self, *exc) -> None:
        with _LIVE_LOCK:
            _LIVE_TOKENS.discard(self.token)
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(self.token)})
            finally:
                self._conn.close()
                self._conn = None


def claim_abandoned(conn: Connection, claimed_by: str | None, claimed_at: datetime | None) -> bool:
    """True when the deliverer that claimed a file is gone, so another may resume it."""
    host, pid, token = _parse(claimed_by)
    if token is None:
        return True  # no readable claim: nobody can be delivering it
    if host == socket.gethostname():
        if int(pid) == os.getpid():
            with _LIVE_LOCK:
                return token not in _LIVE_TOKENS
        if not _pid_alive(int(pid)):
            return True
    if conn.dialect.name == "postgresql":
        got = conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": _key(token)}).scalar()
        if got:  # nobody holds it: the claimer's session is gone
            conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _key(token)})
        return bool(got)
    if claimed_at is None:
        return True
    if claimed_at.tzinfo is None:
        claimed_at = claimed_at.replace(tzinfo=UTC)
    return datetime.now(UTC) - claimed_at > CLAIM_LEASE


def _parse(claimed_by: str | None) -> tuple[str | None, str | None, str | None]:
    parts = (claimed_by or "").rsplit(":", 2)
    if len(parts) != 3 or not parts[1].isascii() or not parts[1].isdigit():
        return None, None, None
    try:
        bytes.fromhex(parts[2])
    except ValueError:
        return None, None, None
    return parts[0], parts[1], parts[2]


def _pid_alive(pid: int) -> bool:
    """True while process ``pid`` runs (a zombie, dead but not yet reaped, is not alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            return stat.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):  # no /proc (not Linux): os.kill's answer stands
        return True
