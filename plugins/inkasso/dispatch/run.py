"""The dispatch flow: marked invoices -> rules -> new-case file -> the agency.

Two steps per agreement and business day, each safe to run again:

``prepare_new_cases``
    Selects, applies the rules, checks the frame, writes the file into the outbox and - in one
    database transaction - logs the file, opens the cases, puts the invoices at collection, writes
    the history events and the holds. If a file for that agreement and day is already logged, it
    does nothing (a rerun never writes a second file). A prepare running beside it waits on the
    agreement's outgoing-file lock (``inkasso.locks``) and then finds the file, so it ends as
    ``exists`` naming the run that prepared the day. If anything fails, the transaction rolls
    back and the written file is removed: nothing half-done remains. A file left by a hard kill
    before the commit is adopted or removed by the next prepare of that day (``inkasso.orphans``).

``deliver_pending``
    Delivers every logged file not yet delivered (of any day): by SFTP (temporary name, sha256
    read back, rename; a file already on the server under its final name with the same sha256 is
    not sent again) or into the manual-export outbox. Each file is claimed (``delivering``, who
    and when, committed) before it is uploaded, so a second deliverer skips it; the claim of a
    killed deliverer is resumed by the next run. A file that could not be delivered yesterday
    goes out with today's retry: the same bytes (its checksum is checked against the file log
    first), never a new file.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
import tempfile
from contextlib import closing
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    and_,
    func,
    insert,
    literal,
    select,
    text,
    true,
    update,
)

from inkasso import erp, outbox
from inkasso.checks import ChunkedCheck
from inkasso.db.schema import (
    ink_agreement,
    ink_case,
    ink_case_event,
    ink_correction,
    ink_dispatch_hold,
    ink_file_log,
)
from inkasso.formats import load_layout, load_profile
from inkasso.formats.writer import StreamWriter, unwritable_values
from inkasso.gates import gates_for, load_settings
from inkasso.locks import DeliveryClaim, claim_abandoned, lock_outgoing, sqlite_write_lock
from inkasso.orphans import settle_orphans
from inkasso.outbox import free_file_name, log_outgoing_file
from inkasso.register import TablePersonRegister
from inkasso.rules import apply_dispatch_rules
from inkasso.runs import progress

log = logging.getLogger(__name__)

NEW_CASES = "new_cases"
LOCAL_TZ = ZoneInfo("Europe/Oslo")
DETAIL_COLUMNS = [
    "case_id",
    "invoice_no",
    "debtor_no",
    "debtor_name",
    "debtor_type",
    "national_id",
    "street",
    "postcode",
    "city",
    "country",
    "invoice_date",
    "due_date",
    "original_amount",
    "remaining_amount",
    "currency",
    "kid",
    "reminder_count",
]


class FileIntegrityError(RuntimeError):
    """A file at rest no longer matches the checksum in the file log: it is not delivered."""


@dataclass(frozen=True)
class Agreement:
    """One row of ``ink_agreement``: who the agency is and how files reach it."""

    agreement_id: str
    client_id: int
    agency: str
    country: str
    customer_no_at_agency: str
    mode: str
    sftp_conn_id: str | None
    reminder_service: bool = False
    # with reminder_service: the reminder level invoices go at (the gates require it)
    reminder_level: int | None = None
    # where the agency pays back to; None falls back to the client's default account
    payback_account: str | None = None
    # JSON overrides of the country's gates (include/rules/gates.yaml), None for none
    gates: str | None = None

    @classmethod
    def from_row(cls, row) -> Agreement:
        """Build from a database row mapping (extra columns are ignored)."""
        return cls(**{f: row[f] for f in cls.__dataclass_fields__})


def load_agreements(
    engine: Engine,
    *,
    agreement_id: str | None = None,
    client_id: int | None = None,
    agency: str | None = None,
) -> list[Agreement]:
    """The active agreements, optionally narrowed to one agreement, client or agency."""
    stmt = (
        select(ink_agreement)
        .where(ink_agreement.c.active.is_(True))
        .order_by(ink_agreement.c.agreement_id)
    )
    if agreement_id:
        stmt = stmt.where(ink_agreement.c.agreement_id == agreement_id)
    if client_id is not None:
        stmt = stmt.where(ink_agreement.c.client_id == client_id)
    if agency:
        stmt = stmt.where(ink_agreement.c.agency == agency)
    with engine.connect() as conn:
        return [Agreement.from_row(r) for r in conn.execute(stmt).mappings()]


def _existing_file(conn, agreement_id: str, business_date: date):
    return (
        conn.execute(
            select(ink_file_log).where(
                and_(
                    ink_file_log.c.agreement_id == agreement_id,
                    ink_file_log.c.direction == "out",
                    ink_file_log.c.kind == NEW_CASES,
                    ink_file_log.c.business_date == business_date,
                )
            )
        )
        .mappings()
        .first()
    )


def prepare_new_cases(
    engine: Engine,
    agreement: Agreement,
    business_date: date,
    cutoff: datetime,
    base,
    *,
    now: datetime,
    run_id: str | None = None,
) -> dict:
    """Write the day's new-case file for one agreement and open its cases (see module doc).

    ``cutoff`` is the moment up to which marks count (the run's logical date), ``base`` the
    ``ObjectStoragePath`` of files at rest, ``now`` the time in the file name. Returns a small
    summary for XCom: status (``written``, ``exists``, ``nothing_to_send``), file, counts.

    The work streams chunk by chunk (a chunk never splits a customer): read, rules, holds, cases
    opened (staged, then ``INSERT ... SELECT ... RETURNING``), events, address write-backs, data
    checks, and the chunk's records appended to a temporary file. The trailer is written last;
    the finished file is then moved into the outbox, all inside the one transaction.
    """
    summary = {"agreement_id": agreement.agreement_id, "business_date": business_date.isoformat()}
    written: list = []  # files this run put into the outbox, removed again if it fails
    temporary: list[Path] = []  # the local file being written, removed whatever happens

    def in_transaction(conn) -> dict:
        lock_outgoing(conn, agreement.agreement_id)  # a concurrent prepare waits, then sees ours
        existing = _existing_file(conn, agreement.agreement_id, business_date)
        if existing is not None:
            log.info(
                "%s: %s already written for %s by run %s; nothing new is sent",
                agreement.agreement_id,
                existing["file_name"],
                business_date,
                existing["run_id"],
            )
            return summary | {
                "status": "exists",
                "prepared_by": existing["run_id"],
                "file_name": existing["file_name"],
                "cases": existing["record_count"],
                "amount": existing["amount_total"],
            }
        run = _DispatchRun(conn, agreement, business_date, base, now, run_id)
        temporary.append(run.tmp_path)
        try:
            return summary | run.stream(cutoff, written)
        finally:
            run.close()

    try:
        with engine.begin() as conn:
            return in_transaction(conn)
    except BaseException:
        for path in written:  # the run left no trace in the database, so none on disk either
            path.unlink(missing_ok=True)
        raise
    finally:
        for path in temporary:
            path.unlink(missing_ok=True)


_CASE_STAGE = Table(
    "ink_stage_case",
    MetaData(),
    Column("invoice_id", Integer, primary_key=True),  # the events' join looks cases up by it
    Column("seq", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Column("original_amount", BigInteger, nullable=False),
    Column("sent_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("address_rule", String(30), nullable=False),
    prefixes=["TEMPORARY"],
)


class _DispatchRun:
    """One agreement and day, streamed inside the caller's transaction (``prepare_new_cases``)."""

    def __init__(self, conn, agreement: Agreement, business_date: date, base, now, run_id):
        self.conn, self.agreement = conn, agreement
        self.business_date, self.now = business_date, now
        self.client = erp.read_client_row(conn, agreement.client_id)
        self.profile = load_profile(agreement.agency)
        self.spec = self.profile.files[NEW_CASES]
        self.layout = load_layout(self.spec.layout)
        self.folder = base / "outbox" / agreement.agreement_id
        self.file_name, self.final_path = free_file_name(
            conn,
            agreement.agreement_id,
            agreement.customer_no_at_agency,
            self.spec,
            now,
            self.folder,
        )
        # the file-log row first: its id goes on the cases; counts and checksum follow at the end
        self.file_id = log_outgoing_file(
            conn, agreement, NEW_CASES, business_date, self.file_name, self.final_path,
            now=now, run_id=run_id,
        )  # fmt: skip
        fd, name = tempfile.mkstemp(prefix=f".{self.file_name}.", suffix=".part")
        self.tmp_path = Path(name)
        self.out = _HashingFile(os.fdopen(fd, "wb"))
        self.writer: StreamWriter | None = None
        # case ids come from ink_case's primary key: unique across chunks without remembering them
        self.check = ChunkedCheck(NEW_CASES, unique_elsewhere=("case_id",))
        self.holds: dict[str, int] = {}
        self.held = self.cases = self.amount = self.seq = 0

    def close(self) -> None:
        """Close the temporary file (the caller removes it)."""
        self.out.close()

    def stream(self, cutoff: datetime, written: list) -> dict:
        """Every chunk of marked invoices through the rules into cases and the file; then finish.

        The file put into the outbox is appended to ``written`` at once (removed on failure).
        """
        conn, agreement = self.conn, self.agreement
        _replace_holds(conn, agreement.agreement_id, self.business_date, None)
        conn.execute(text("DROP TABLE IF EXISTS ink_stage_case"))
        _CASE_STAGE.create(conn)
        erp.create_stages(conn)
        register = TablePersonRegister(conn)
        lookup = register.lookup_many if self.client["register_lookup"] else None
        settings = erp.ClientSettings(
            client_id=self.client["client_id"],
            min_collection_amount=int(self.client["min_collection_amount"]),
            register_lookup=bool(self.client["register_lookup"]),
        )
        gates = agreement_gates(agreement, self.business_date, self.client["currency"])
        writable = partial(_unwritable, self.layout)
        read = 0
        with closing(erp.read_marked_invoices(conn, agreement.client_id, cutoff)) as chunks:
            for invoices in chunks:
                read += len(invoices)
                plan = apply_dispatch_rules(
                    invoices, settings, lookup, gates=gates, writable=writable
                )
                self._chunk(plan)
            log.info(
                "%s: %s marked invoices read, %s cases", agreement.agreement_id, read, self.cases
            )
        _CASE_STAGE.drop(conn)
        log.info("%s: %s marked invoices read", agreement.agreement_id, read)
        result = {"holds": dict(sorted(self.holds.items())), "held_invoices": self.held}
        if self.cases == 0:
            erp.drop_stages(conn)
            conn.execute(ink_file_log.delete().where(ink_file_log.c.file_id == self.file_id))
            orphans = settle_orphans(
                conn, agreement, self.spec, self.layout, self.business_date, self.folder, None
            )
            log.info("%s: nothing to send (%s held back)", agreement.agreement_id, self.held)
            return result | {
                "status": "nothing_to_send",
                "cases": 0,
                "amount": 0,
                "orphans": orphans.notes,
            }
        return result | self._finish(written)

    def _chunk(self, plan) -> None:
        """The chunk's holds, cases, events and address write-backs; its records into the file."""
        conn = self.conn
        if len(plan.holds):
            rows = plan.holds.assign(
                agreement_id=self.agreement.agreement_id, business_date=self.business_date
            )
            erp.copy_rows(conn, ink_dispatch_hold, rows)
            for reason, count in plan.holds["reason"].value_counts().items():
                self.holds[str(reason)] = self.holds.get(str(reason), 0) + int(count)
            self.held += len(plan.holds)
        cases = plan.cases
        if cases.empty:
            return
        ids = self._open_cases(cases)
        cases = cases.merge(ids, on="invoice_id", how="left")
        erp.stage_sent(conn, cases["invoice_id"], plan.invoice_address_updates)
        erp.stage_customer_addresses(conn, plan.customer_address_updates)
        frame = build_detail_frame(cases)
        writer = self._writer()
        first_line = writer.lines + writer.first_line  # the file line of the chunk's first case
        self.check.check(frame, first_line=first_line)
        if not self.profile.carries_reminder_count:  # the agency runs no reminders
            frame = frame.drop(columns=["reminder_count"])
        writer.append(frame)
        self.cases += len(cases)
        self.amount += int(cases["remaining_amount"].sum())

    def _writer(self) -> StreamWriter:
        if self.writer is None:
            client, agreement = self.client, self.agreement
            header = {
                "customer_no": agreement.customer_no_at_agency,
                "client_name": client["name"],
                "client_org_no": client["org_no"],
                "file_date": self.business_date,
                "currency": client["currency"],
                # used where the layout has the field (README, "Setting up a real agency")
                "payback_account": agreement.payback_account or client["default_bank_account"],
            }
            self.writer = StreamWriter(self.layout, self.out, header)
        return self.writer

    def _open_cases(self, cases: pd.DataFrame) -> pd.DataFrame:
        """Stage the chunk's cases, open them set-based; returns their (case_id, invoice_id)."""
        conn, n = self.conn, len(cases)
        stage = pd.DataFrame(
            {
                "seq": range(self.seq, self.seq + n),
                "invoice_id": cases["invoice_id"].astype("int64").to_numpy(),
                "customer_id": cases["customer_id"].astype("int64").to_numpy(),
                "original_amount": cases["original_amount"].astype("int64").to_numpy(),
                "sent_amount": cases["remaining_amount"].astype("int64").to_numpy(),
                "currency": cases["currency"].to_numpy(),
                "address_rule": cases["address_rule"].to_numpy(),
            }
        )
        self.seq += n
        conn.execute(_CASE_STAGE.delete())
        erp.copy_rows(conn, _CASE_STAGE, stage)
        s = _CASE_STAGE.c
        opened = conn.execute(
            insert(ink_case)
            .from_select(
                [
                    "agreement_id", "invoice_id", "customer_id", "file_id", "status", "is_open",
                    "original_amount", "sent_amount", "currency", "business_date", "opened_at",
                ],
                select(
                    literal(self.agreement.agreement_id, String),
                    s.invoice_id,
                    s.customer_id,
                    literal(self.file_id, Integer),
                    literal("sent", String),
                    true(),
                    s.original_amount,
                    s.sent_amount,
                    s.currency,
                    literal(self.business_date, Date),
                    literal(self.now, DateTime(timezone=True)),
                ).order_by(s.seq),
            )
            .returning(ink_case.c.case_id, ink_case.c.invoice_id)
        ).all()  # fmt: skip
        if len(opened) != n:
            raise RuntimeError(f"{self.agreement.agreement_id}: {len(opened)} cases opened of {n}")
        first, last = min(r[0] for r in opened), max(r[0] for r in opened)
        detail = literal(f"sent in {self.file_name}; address: ", String) + s.address_rule
        conn.execute(
            insert(ink_case_event).from_select(
                ["case_id", "at", "kind", "file_id", "detail"],
                select(
                    ink_case.c.case_id,
                    literal(self.now, DateTime(timezone=True)),
                    literal("opened", String),
                    ink_case.c.file_id,
                    detail,
                )
                .select_from(_CASE_STAGE.join(ink_case, ink_case.c.invoice_id == s.invoice_id))
                # the chunk's case ids: a range of the primary key, never the whole file so far
                .where(ink_case.c.case_id.between(first, last), ink_case.c.file_id == self.file_id)
                .order_by(ink_case.c.case_id),
            )
        )
        return pd.DataFrame(opened, columns=["case_id", "invoice_id"])

    def _finish(self, written: list) -> dict:
        """Trailer, orphans, the file into the outbox, file log, invoices at collection."""
        conn, agreement = self.conn, self.agreement
        size = self.writer.finish()
        self.out.close()
        sha = self.out.hexdigest()
        orphans = settle_orphans(
            conn, agreement, self.spec, self.layout, self.business_date, self.folder,
            None, sha256=sha,
        )  # fmt: skip
        file_name, path = self.file_name, self.final_path
        if orphans.adopted is not None:
            file_name, path = orphans.adopted.name, orphans.adopted
            conn.execute(
                update(ink_case_event)
                .where(ink_case_event.c.file_id == self.file_id, ink_case_event.c.kind == "opened")
                .values(detail=func.replace(ink_case_event.c.detail, self.file_name, file_name))
            )
        else:
            write_new_file(path, self.tmp_path)  # refuses to overwrite
            written.append(path)
        conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == self.file_id)
            .values(
                file_name=file_name,
                path=str(path),
                sha256=sha,
                size_bytes=size,
                record_count=self.cases,
                amount_total=self.amount,
                detail="; ".join(orphans.notes) or None,
            )
        )
        changed = erp.set_invoices_at_collection(conn)
        if changed != self.cases:
            raise RuntimeError(
                f"{agreement.agreement_id}: {changed} invoices changed status, expected"
                f" {self.cases}; the ERP changed under the run - rolled back, nothing sent"
            )
        erp.update_customer_addresses(conn)
        erp.drop_stages(conn)
        log.info(
            "%s: wrote %s with %s cases, %s øre",
            agreement.agreement_id, file_name, self.cases, self.amount,
        )  # fmt: skip
        return {
            "status": "written",
            "file_name": file_name,
            "path": str(path),
            "cases": self.cases,
            "amount": self.amount,
            "orphans": orphans.notes,
        }


class _HashingFile:
    """A binary file that keeps the SHA-256 of what is written to it."""

    def __init__(self, raw):
        self.raw = raw
        self.sha = hashlib.sha256()

    def write(self, data: bytes) -> int:
        """Write and hash ``data``."""
        self.sha.update(data)
        return self.raw.write(data)

    def close(self) -> None:
        """Close the file (again is fine)."""
        self.raw.close()

    def hexdigest(self) -> str:
        """The checksum of everything written."""
        return self.sha.hexdigest()


def _unwritable(layout, cases: pd.DataFrame) -> pd.Series:
    return unwritable_values(layout, detail_values(cases))


def write_new_file(path, data) -> None:
    """Put a finished file at ``path``, which must not exist (a file at rest is never overwritten).

    ``data`` is the file's bytes, or the local temporary file it was written to: that is linked
    (local outbox) or copied (object storage) into place.
    """
    if isinstance(data, bytes | bytearray):
        outbox.write_new_file(path, data)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    if getattr(path, "protocol", "file") in ("file", "local"):
        local = path.path if hasattr(path, "protocol") else str(path)
        try:  # a hard link fails if the name exists: no check-then-write race
            os.link(data, local)
            return
        except OSError as err:
            if err.errno != errno.EXDEV:
                raise
    if path.exists():
        raise FileExistsError(f"{path} already exists; an outgoing file is never overwritten")
    with open(data, "rb") as src, path.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def agreement_gates(agreement: Agreement, business_date: date, currency: str):
    """The gates in force for the agreement on ``business_date`` (country defaults + its own)."""
    settings = load_settings(agreement.country, agreement.gates, where=agreement.agreement_id)
    return gates_for(
        settings,
        country=agreement.country,
        business_date=business_date,
        currency=currency,
        reminder_service=bool(agreement.reminder_service),
        reminder_level=agreement.reminder_level,
    )


def build_detail_frame(cases: pd.DataFrame) -> pd.DataFrame:
    """The new-case records in the format engine's column names, one row per case."""
    frame = detail_values(cases)
    return frame.sort_values("case_id").reset_index(drop=True)[DETAIL_COLUMNS]


def detail_values(cases: pd.DataFrame) -> pd.DataFrame:
    """The cases' values under the format engine's column names, indexed like ``cases``.

    Before the cases are opened there is no ``case_id`` yet: it is 0 then (the writability check
    looks at text fields only).
    """
    case_id = cases["case_id"] if "case_id" in cases.columns else pd.Series(0, index=cases.index)
    return pd.DataFrame(
        {
            "case_id": case_id.astype("int64"),
            "invoice_no": cases["invoice_no"],
            "debtor_no": cases["customer_no"],
            "debtor_name": cases["debtor_name"],
            "debtor_type": cases["is_organisation"].map({True: "O", False: "P"}),
            "national_id": cases["national_id"],
            "street": cases["street"],
            "postcode": cases["postcode"],
            "city": cases["city"],
            "country": cases["country"],
            "invoice_date": cases["invoice_date"],
            "due_date": cases["due_date"],
            "original_amount": cases["original_amount"].astype("int64"),
            "remaining_amount": cases["remaining_amount"].astype("int64"),
            "currency": cases["currency"],
            "kid": cases["kid"],
            "reminder_count": cases["reminder_count"].astype("int64"),
        },
        index=cases.index,
    )


def _replace_holds(
    conn, agreement_id: str, business_date: date, holds: pd.DataFrame | None
) -> None:
    """Remove the agreement's holds of the day (a rerun replaces them); add ``holds`` if given."""
    conn.execute(
        ink_dispatch_hold.delete().where(
            and_(
                ink_dispatch_hold.c.agreement_id == agreement_id,
                ink_dispatch_hold.c.business_date == business_date,
            )
        )
    )
    if holds is not None and len(holds):
        rows = holds.assign(agreement_id=agreement_id, business_date=business_date)
        erp.copy_rows(conn, ink_dispatch_hold, rows)


def deliver_pending(engine: Engine, agreement: Agreement, base, *, now: datetime) -> dict:
    """Deliver every logged, undelivered outgoing file of the agreement (see module doc).

    Each file is claimed first (``delivering``, committed with who and when): a deliverer
    running beside this one skips it (listed under ``claimed_elsewhere``); a claim whose
    deliverer is gone (killed) is resumed, the agency's copy being checked by sha256. A failure
    hands the claims back (``written``) for the next run.
    """
    summary = {"agreement_id": agreement.agreement_id, "mode": agreement.mode, "files": []}
    with DeliveryClaim(engine) as claim:
        pending, busy = _claim_pending(engine, agreement.agreement_id, claim)
        if busy:
            summary["claimed_elsewhere"] = busy
            log.info("%s: %s being delivered by another run", agreement.agreement_id, busy)
        if not pending:
            return summary
        try:
            outcomes = _deliver_claimed(agreement, base, pending)
            _record_delivered(engine, agreement, claim, outcomes, now, summary)
        except BaseException:
            try:
                _release_claims(engine, claim, [r["file_id"] for r in pending])
            except Exception:  # the database is gone too: the claims die with this deliverer
                log.exception("%s: claims not handed back", agreement.agreement_id)
            raise
    return summary


def _claim_pending(engine: Engine, agreement_id: str, claim) -> tuple[list, list[str]]:
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


def _release_claims(engine: Engine, claim, file_ids: list[int]) -> None:
    """Hand this deliverer's unfinished claims back (``written``) for the next run."""
    t = ink_file_log
    with engine.begin() as conn:
        conn.execute(
            update(t)
            .where(t.c.file_id.in_(file_ids), t.c.status == "delivering")
            .where(t.c.claimed_by == claim.who)
            .values(status="written", claimed_by=None, claimed_at=None)
        )


def _deliver_claimed(agreement: Agreement, base, pending: list) -> list[tuple]:
    """Check the claimed files at rest and deliver them; (row, outcome, remote, status) each."""
    from airflow.sdk import ObjectStoragePath

    from inkasso.transport import Delivery, deliver_manual, deliver_sftp

    for done, row in enumerate(pending):
        progress(
            log, f"{agreement.agreement_id}: files checked before delivery", done, len(pending)
        )
        data = ObjectStoragePath(row["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != row["sha256"]:
            raise FileIntegrityError(
                f"{row['path']}: checksum differs from the file log ({row['sha256']}); not delivered"
            )
    if agreement.mode != "sftp":
        outbox = base / "manual_outbox" / agreement.agreement_id
        return [
            (r, "exported", str(deliver_manual(ObjectStoragePath(r["path"]), outbox)), "exported")
            for r in pending
        ]
    remote_dir = load_profile(agreement.agency).remote.upload_dir
    results = deliver_sftp(
        agreement.sftp_conn_id,
        [
            Delivery(
                source=ObjectStoragePath(r["path"]),
                remote_dir=remote_dir,
                remote_name=r["file_name"],
                size=r["size_bytes"],
                sha256=r["sha256"],
                agreement_id=agreement.agreement_id,
            )
            for r in pending
        ],
    )
    return [
        (r, res.outcome, f"{remote_dir.rstrip('/')}/{r['file_name']}", "delivered")
        for r, res in zip(pending, results, strict=True)
    ]


def _record_delivered(engine, agreement, claim, outcomes, now, summary) -> None:
    """Log each delivered file and its cases' events, once: only while this claim holds it."""
    with engine.begin() as conn:
        for row, outcome, remote, status in outcomes:
            held = conn.execute(
                update(ink_file_log)
                .where(
                    ink_file_log.c.file_id == row["file_id"],
                    ink_file_log.c.status == "delivering",
                    ink_file_log.c.claimed_by == claim.who,
                )
                .values(status=status, remote_path=remote, delivered_at=now)
            ).rowcount
            if not held:  # another deliverer took the claim over and records it itself
                log.warning("%s: %s recorded by another run", agreement.agreement_id, remote)
                continue
            _delivery_events(conn, row, status, f"{row['file_name']} -> {remote}", now)
            summary["files"].append(
                {"file_name": row["file_name"], "outcome": outcome, "to": remote}
            )
            log.info("%s: %s %s -> %s", agreement.agreement_id, row["file_name"], outcome, remote)


def _delivery_events(conn, row, status: str, detail: str, now: datetime) -> None:
    """One history event per case of the file (a correction file: the cases it corrects)."""
    conn.execute(
        insert(ink_case_event).from_select(
            ["case_id", "at", "kind", "detail", "file_id"],
            select(
                ink_case.c.case_id,
                literal(now),
                literal(status),
                literal(detail),
                ink_case.c.file_id,
            ).where(ink_case.c.file_id == row["file_id"]),
        )
    )
    if row["kind"] == "corrections":  # its cases are those of its corrections
        conn.execute(
            insert(ink_case_event).from_select(
                ["case_id", "at", "kind", "detail", "file_id"],
                select(
                    ink_correction.c.case_id,
                    literal(now),
                    literal(status),
                    literal(detail),
                    ink_correction.c.file_id,
                )
                .where(ink_correction.c.file_id == row["file_id"])
                .distinct(),
            )
        )


def log_summary(results: list[dict]) -> dict:
    """Log one line per agreement of a dispatch run and return the totals."""
    totals = {"agreements": len(results), "files": 0, "cases": 0, "held_invoices": 0}
    for res in results:
        prep = res.get("prepared", {})
        log.info(
            "%-18s %-16s cases=%-6s amount=%-12s held=%-5s delivered=%s",
            res["agreement_id"],
            prep.get("status"),
            prep.get("cases", 0),
            prep.get("amount", 0),
            prep.get("held_invoices", 0),
            [f["file_name"] for f in res.get("files", [])],
        )
        totals["files"] += len(res.get("files", []))
        totals["cases"] += int(prep.get("cases", 0)) if prep.get("status") == "written" else 0
        totals["held_invoices"] += int(prep.get("held_invoices", 0))
    return totals


def agreements_for_run(params: dict) -> list[dict]:
    """The active agreements a run covers (its Params may narrow them), as dicts for XCom."""
    from inkasso.db.engine import erp_engine

    found = load_agreements(
        erp_engine(),
        agreement_id=params.get("agreement_id"),
        client_id=params.get("client_id"),
        agency=params.get("agency"),
    )
    return [a.__dict__ for a in found]
