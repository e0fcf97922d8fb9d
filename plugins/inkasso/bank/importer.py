"""The bank import of one client: each new file of the drop read, logged, booked, archived.

``import_bank_file`` handles one file, exactly once per content (SHA-256 in ``ink_file_log``):

* the original bytes are archived under ``inbound/bank/<client>/<business date>/``;
* a file that does not read, whose control records disagree with its body, that holds a
  payment in another currency than the client's (BgMax deposits may be in EUR), or a payment
  into an account that is not the client's (its default bank account, an agreement's payback
  account or one of the drop's ``accounts``; BgMax: the deposit's bank account or its opening's
  bankgiro), is quarantined whole (``quarantine/bank/<client>/``, file log status
  ``quarantined``, the line and field in ``ink_file_issue``): nothing of it is booked;
* a name already holding other bytes there (the bank used it again) keeps those: the new copy is
  ``<sha256[:12]>_<name>``, so each log row's path holds its own file;
* an AvtaleGiro file (agreements, payment requests) is logged as ``ignored``: not money received;
* a payments file is logged ``applied`` and, in the same transaction, its payments recorded in
  ``erp_payment`` (matched by KID / OCR reference), applied to invoices, payouts logged and booked.

The same bytes under another name are logged once more as ``duplicate`` and not booked, also
when two runs take them at once: the booking transaction locks the bytes and looks again. Other
bytes under a name already booked are a new file: booked on their own, under the ERP name
`names.erp_bank_file` gives them (``<name>#<file_id>``), since their references may repeat the
earlier file's. A reference twice within one file quarantines it (the ERP keeps each once).
The booking also holds the client's booking lock (`inkasso.locks.lock_books`: a dispatch of the
client waits), and the payments' ``booked_at`` follows the commit order (`inkasso.stamps`).

A file is given as bytes or as a local path; a path is hashed, archived and read in streams, and
the payments are read in chunks (``chunk_rows`` lines) staged one by one and booked once at the
end, all in the file's one transaction: memory is bounded by a chunk, not by the file.
"""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, date, datetime

from sqlalchemy import Connection, Engine, insert, select, text, update

from inkasso.bank.detect import _head, detect_format, iter_bank_file
from inkasso.bank.model import PAYMENTS, BankChunk, BankFileError
from inkasso.bank.names import erp_bank_file
from inkasso.bank.payouts import agency_accounts, log_payouts, reconcile_payouts
from inkasso.bank.record import (
    account_key,
    append_stage,
    begin_stage,
    book_staged,
    drop_stage,
    mark_payouts,
    move_ended_invoices,
    repeated_ref,
)
from inkasso.db.schema import ink_agreement, ink_bank_notice, ink_file_issue, ink_file_log
from inkasso.db.staging import bulk_session
from inkasso.locks import lock_books, sqlite_write_lock
from inkasso.runs import progress
from inkasso.sql import query

log = logging.getLogger(__name__)

BANK_KINDS = ("ocr_giro", "bgmax")
UNKNOWN_KIND = "bank_unknown"
CHUNK_ROWS = 100_000
BYTES_NAMESPACE = 7303  # advisory locks on a client's file bytes (beside inkasso.locks')
_BLOCK = 1 << 20  # bytes hashed per read of a file given as a path

Source = bytes | str | os.PathLike


def logged_files(engine: Engine, client_id: int) -> dict[tuple[str, int], tuple[set, datetime]]:
    """(file name, size) of every bank file logged for the client -> (the drop's modification
    times recorded when such files were read, when such a file was last logged)."""
    f = ink_file_log.c
    with engine.connect() as conn:
        rows = conn.execute(
            select(f.file_name, f.size_bytes, f.source_mtime, f.created_at).where(
                f.client_id == client_id,
                f.direction == "in",
                f.kind.in_((*BANK_KINDS, UNKNOWN_KIND)),
            )
        ).all()
    known: dict[tuple[str, int], tuple[set, datetime]] = {}
    for name, size, mtime, at in rows:
        times, last = known.get((name, int(size)), (set(), _utc(at)))
        if mtime is not None:
            times.add(_utc(mtime))
        known[name, int(size)] = (times, max(last, _utc(at)))
    return known


def _utc(at) -> datetime:
    """A logged time as an aware datetime (SQLite gives it back without its zone: UTC)."""
    at = datetime.fromisoformat(at) if isinstance(at, str) else at
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def new_files(waiting: dict, known: dict) -> list[str]:
    """The drop's files to read: a name and size not logged yet, or one whose modification time
    is not one recorded when such a file was read (a bank reusing a name, with fixed-width
    records, often writes the same size). Files logged before times were recorded (0012) count
    as changed when modified after they were last logged."""
    chosen = []
    for name, (size, mtime) in waiting.items():
        if (name, size) not in known:
            chosen.append(name)
            continue
        times, last = known[name, size]
        if mtime is not None and (mtime not in times if times else mtime > last):
            chosen.append(name)
    return chosen


def _digest(source: Source) -> tuple[str, int]:
    """SHA-256 (hex) and size of a file given as bytes or a path (read in blocks)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return hashlib.sha256(source).hexdigest(), len(source)
    sha, size = hashlib.sha256(), 0
    with open(source, "rb") as handle:
        while block := handle.read(_BLOCK):
            sha.update(block)
            size += len(block)
    return sha.hexdigest(), size


def _place(folder, file_name: str, sha256: str):
    """Where to keep a file's bytes in ``folder`` (made if missing): under its name, unless other
    bytes are kept there already (the bank used the name again): then under
    ``<sha256[:12]>_<name>``, so that every log row's path keeps holding its own bytes."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name
    if path.exists() and _digest_of(path) != sha256:
        path = folder / f"{sha256[:12]}_{file_name}"
    return path


def _digest_of(path) -> str:
    """SHA-256 (hex) of a kept file (any ObjectStoragePath), read in blocks."""
    sha = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(_BLOCK):
            sha.update(block)
    return sha.hexdigest()


def _copy(source: Source, target) -> None:
    """Write the file's bytes to ``target`` (any ObjectStoragePath; streamed from a path)."""
    if isinstance(source, bytes | bytearray | memoryview):
        target.write_bytes(source)
        return
    with open(source, "rb") as src, target.open("wb") as dst:
        shutil.copyfileobj(src, dst, _BLOCK)


def _log_row(client_id, kind, file_name, business_date, status, path, digest, now, run_id, **extra):
    return {
        "client_id": client_id,
        "agreement_id": None,
        "direction": "in",
        "kind": kind,
        "file_name": file_name,
        "business_date": business_date,
        "status": status,
        "path": str(path),
        "sha256": digest[0],
        "size_bytes": digest[1],
        "record_count": 0,
        "amount_total": 0,
        "run_id": run_id,
        "created_at": now,
    } | extra


def import_bank_file(
    engine: Engine,
    client_id: int,
    file_name: str,
    data: Source,
    *,
    business_date: date,
    base,
    now: datetime,
    run_id: str | None = None,
    chunk_rows: int = CHUNK_ROWS,
    source_mtime: datetime | None = None,
    client_accounts: tuple[str, ...] = (),
) -> dict:
    """Import one bank file of one client (see module doc); returns a small summary for XCom.

    ``data`` is the file's bytes or a local path to it; ``source_mtime`` its modification time
    in the drop, recorded so that the next listing knows it (`new_files`); ``client_accounts`` more
    accounts the client receives on (its drop's ``accounts``, `own_accounts`).
    """
    digest = _digest(data)
    kind = detect_format(_head(data)) or UNKNOWN_KIND
    summary = {"client_id": client_id, "file_name": file_name, "kind": kind}
    folder = base / "inbound" / "bank" / str(client_id) / business_date.isoformat()
    row = _log_row(
        client_id, kind, file_name, business_date, "", folder / file_name, digest, now, run_id,
        source_mtime=source_mtime,
    )  # fmt: skip
    with engine.connect() as conn:
        seen = _seen_names(conn, row)
    if file_name in seen:  # imported before under this name: nothing to archive again
        with engine.begin() as conn:
            return summary | _known_bytes(conn, row, seen)
    archive = _place(folder, file_name, digest[0])
    row["path"] = str(archive)
    _copy(data, archive)
    try:
        return summary | _book(engine, row, data, now, chunk_rows, client_accounts)
    except BankFileError as error:
        # raised mid-file, it rolled back all the file staged or booked: quarantined whole
        return summary | _quarantine(engine, row, base, data, error)


def _lock_bytes(conn: Connection, client_id: int, sha256: str) -> None:
    """Hold the right to book these bytes for the client to the end of ``conn``'s transaction.

    Two runs at once (a rerun beside the scheduled run, a backfill) may both find a file's
    bytes new; the second waits here until the first has committed and then sees them booked.
    PostgreSQL: a transaction-level advisory lock on (client, SHA-256); SQLite: the write lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:ns, hashtext(:key))"),
            {"ns": BYTES_NAMESPACE, "key": f"{client_id}:{sha256}"},
        )
        return
    sqlite_write_lock(conn)


def _seen_names(conn: Connection, row: dict) -> list[str]:
    """The names the client's file log has the bytes of ``row`` under, first logged first."""
    f = ink_file_log.c
    return list(
        conn.execute(
            select(f.file_name)
            .where(f.client_id == row["client_id"], f.direction == "in", f.sha256 == row["sha256"])
            .order_by(f.file_id)
        ).scalars()
    )


def _known_bytes(conn: Connection, row: dict, seen: list[str]) -> dict:
    """What becomes of a file whose bytes the log has under the names ``seen``: under its own
    name ``already_imported`` (its drop time updated, see `_seen_at`); under another name a
    ``duplicate`` row is logged, naming the first, and nothing is booked."""
    client_id, file_name = row["client_id"], row["file_name"]
    if file_name in seen:
        _seen_at(conn, row)
        return {"status": "already_imported"}
    conn.execute(
        insert(ink_file_log).values(
            row | {"status": "duplicate", "detail": f"same bytes as {seen[0]}: not booked"}
        )
    )
    log.warning("client %s: %s has the same bytes as %s; not booked", client_id, file_name, seen[0])
    return {"status": "duplicate", "same_as": seen[0]}


def _seen_at(conn: Connection, row: dict) -> None:
    """The same bytes under their name, touched again in the drop: its new modification time is
    recorded on its log row, so later listings do not read it again and again."""
    if row["source_mtime"] is None:
        return
    f = ink_file_log.c
    conn.execute(
        update(ink_file_log)
        .where(
            f.client_id == row["client_id"],
            f.direction == "in",
            f.file_name == row["file_name"],
            f.sha256 == row["sha256"],
        )
        .values(source_mtime=row["source_mtime"])
    )


def _book(
    engine: Engine, row: dict, data: Source, now: datetime, chunk_rows: int, client_accounts=()
) -> dict:
    """Stage the file chunk by chunk and book it once, in one transaction; or log it ignored."""
    client_id, file_name = row["client_id"], row["file_name"]
    count = amount = 0
    chunk = None
    with engine.begin() as conn:
        _lock_bytes(conn, client_id, row["sha256"])
        seen = _seen_names(conn, row)  # logged by a run beside this one meanwhile
        if seen:
            return _known_bytes(conn, row, seen)
        bulk_session(conn)
        accounts = agency_accounts(conn, client_id)
        begin_stage(conn, accounts)
        client = conn.execute(query("erp/select_client"), {"client_id": client_id}).one()
        own = own_accounts(conn, client_id, client.default_bank_account, client_accounts)
        for chunk in _chunks(data, file_name, chunk_rows):
            payments = chunk.payments
            _same_currency(payments, client.currency, file_name)
            _to_the_client(payments, own, file_name)
            append_stage(conn, payments, mark_payouts(payments, accounts))
            count += len(payments)
            amount += int(payments["amount"].sum())
        if chunk is None or not chunk.last:  # a reader ends with its last chunk; never book less
            raise BankFileError(file_name, None, None, "the reader gave no last chunk")
        if chunk.kind != PAYMENTS:
            drop_stage(conn)
            conn.execute(
                insert(ink_file_log).values(
                    row
                    | {
                        "status": "ignored",
                        "record_count": chunk.control_count,
                        "detail": f"{chunk.kind}: not payments received, nothing booked",
                    }
                )
            )
            log.info("client %s: %s is %s; not booked", client_id, file_name, chunk.kind)
            return {"status": "ignored", "file_kind": chunk.kind}
        counts = _record(conn, row | {"record_count": count, "amount_total": amount}, now)
        drop_stage(conn)
    log.info("client %s: %s booked: %s", client_id, file_name, counts)
    return {"status": "applied", "payments": count, "amount": amount, **counts}


def _same_currency(payments, currency: str, file_name: str) -> None:
    """Raise `BankFileError` at the first payment in another currency than the client's: its
    amount is not in the client's øre/öre, so nothing of the file may be booked (a BgMax file can
    hold EUR deposits beside SEK ones; an OCR giro file is NOK)."""
    other = payments[payments["currency"] != currency]
    if len(other):
        first = other.iloc[0]
        raise BankFileError(
            file_name, int(first["line"]), "currency",
            f"payment in {first['currency'] or 'no currency'}; the client books {currency} only:"
            " nothing of the file is booked",
        )  # fmt: skip


def own_accounts(
    conn: Connection, client_id: int, default_account: str | None, more=()
) -> set[str]:
    """The accounts money for the client may arrive in, compared as `account_key`: its default
    bank account (a Swedish client's bankgiro, a Norwegian client's account number), the
    accounts its agreements have the agencies pay back to (``payback_account``) and ``more``
    (the drop's ``accounts``: a client receiving on several)."""
    a = ink_agreement.c
    payback = conn.execute(
        select(a.payback_account).where(a.client_id == client_id, a.payback_account.is_not(None))
    ).scalars()
    return {key for key in map(account_key, [default_account, *payback, *more]) if key}


def _to_the_client(payments, own: set[str], file_name: str) -> None:
    """Raise `BankFileError` at the first payment into an account that is not the client's (`own`
    names neither its payee account nor, BgMax, its deposit's payee bankgiro): a file delivered
    to the wrong client's drop would book another creditor's money on this client's invoices,
    whose KIDs may collide with that creditor's, so nothing of it is booked. With no account of
    the client known (``own`` empty) nothing is checked."""
    if not own or not len(payments):
        return
    payees = payments[["payee_account", "payee_giro"]].drop_duplicates()  # a file names few
    known = payees["payee_account"].map(account_key).isin(own) | payees["payee_giro"].map(
        account_key
    ).isin(own)
    if not known.all():
        first = payments.loc[payees.index[~known.to_numpy()][0]]
        giro = f" (bankgiro {first['payee_giro']})" if first["payee_giro"] else ""
        raise BankFileError(
            file_name, int(first["line"]), "payee_account",
            f"payment to account {first['payee_account'] or '(none)'}{giro}, not the client's"
            f" ({', '.join(sorted(own))}): another client's file? nothing of the file is booked",
        )  # fmt: skip


def _record(conn: Connection, row: dict, now: datetime) -> dict:
    """Log the staged payments file ``applied`` and book it, under its ERP name (`names`)."""
    client_id, file_name = row["client_id"], row["file_name"]
    # from here on the client's invoices and cases are read: no dispatch of the client between
    # this read and the commit (the payments' stamp follows the commit order, `inkasso.stamps`)
    lock_books(conn, client_id)
    repeat = repeated_ref(conn)
    if repeat:  # erp_payment holds a reference once per file: a person must look at it
        ref, first, line = repeat
        raise BankFileError(
            file_name, line, "payment_ref", f"payment reference {ref!r} already on line {first}"
        )
    file_id = conn.execute(
        insert(ink_file_log).values(row | {"status": "applied"})
    ).inserted_primary_key[0]
    bank_file = erp_bank_file(conn, client_id, file_name, file_id)
    if bank_file != file_name:
        conn.execute(
            update(ink_file_log)
            .where(ink_file_log.c.file_id == file_id)
            .values(detail=f"name used before: booked as bank file {bank_file}")
        )
        log.info("client %s: %s used before; booked as %s", client_id, file_name, bank_file)
    counts = book_staged(conn, client_id, bank_file, now)
    counts |= log_payouts(conn, client_id, bank_file)
    move_ended_invoices(conn, client_id)
    return counts | {"bank_file": bank_file}


def _chunks(data: Source, file_name: str, chunk_rows: int) -> Iterator[BankChunk]:
    """The file's chunks; a reader bug is a `BankFileError` too (the file waits for a person).

    Only the reader's own steps are guarded: a database error while booking is not the file's
    fault and propagates.
    """
    try:
        chunks = iter_bank_file(data, file_name, chunk_rows)
        while True:
            try:
                chunk = next(chunks)
            except StopIteration:
                return
            yield chunk
    except BankFileError:
        raise
    except Exception as exc:
        log.exception("reading %s failed", file_name)
        raise BankFileError(
            file_name, None, None, f"the reader failed: {type(exc).__name__}"
        ) from exc


def _quarantine(engine: Engine, row: dict, base, data: Source, error: BankFileError) -> dict:
    """Put a broken file in quarantine and log where it breaks; nothing is booked."""
    path = _place(base / "quarantine" / "bank" / str(row["client_id"]), row["file_name"],
                  row["sha256"])  # fmt: skip
    _copy(data, path)
    with engine.begin() as conn:
        _lock_bytes(conn, row["client_id"], row["sha256"])
        seen = _seen_names(conn, row)  # quarantined by a run beside this one meanwhile
        if seen:
            return _known_bytes(conn, row, seen)
        file_id = conn.execute(
            insert(ink_file_log).values(
                row | {"status": "quarantined", "path": str(path), "detail": str(error)}
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(ink_file_issue).values(
                file_id=file_id, line=error.line, field=error.field, reason=error.reason
            )
        )
    log.warning("client %s: %s quarantined: %s", row["client_id"], row["file_name"], error)
    return {"status": "quarantined", "error": str(error), "line": error.line, "field": error.field}


def import_drop(
    engine: Engine, drop, *, business_date: date, base, now: datetime, run_id=None
) -> dict:
    """Import every new file of one client's drop, in name order; then reconcile its payouts.

    A file gone between the listing and its reading is reported ``vanished`` and not logged, so
    that it is read when it comes back; a listed name that is not a plain file name (a path,
    '..', a control character) is reported ``refused`` and never read. The other files are
    imported as usual.

    Returns the client's summary for XCom: the files' results, how many payouts of them were
    given to an agreement by the payer account alone (``payouts_picked``), the reconciliation.
    """
    from inkasso.bank.drops import iter_drop, list_drop

    waiting = list_drop(drop)
    results = [_refused(drop, name) for name in waiting if not plain_name(name)]
    waiting = {name: listed for name, listed in waiting.items() if plain_name(name)}
    new = new_files(waiting, logged_files(engine, drop.client_id))
    for done, (name, data) in enumerate(iter_drop(drop, new)):
        progress(log, f"client {drop.client_id}: bank files imported", done, len(new))
        try:
            if data is None:
                raise FileNotFoundError(name)
            result = import_bank_file(
                engine, drop.client_id, name, data,
                business_date=business_date, base=base, now=now, run_id=run_id,
                source_mtime=waiting[name][1], client_accounts=getattr(drop, "accounts", ()),
            )  # fmt: skip
        except FileNotFoundError:
            if data is not None and (
                not isinstance(data, str | os.PathLike) or os.path.exists(data)
            ):
                raise  # another file is missing: not the drop's doing
            result = _vanished(drop, name)
        results.append(result)
    with engine.begin() as conn:
        agreements = [
            a for (a,) in conn.execute(
                select(ink_agreement.c.agreement_id).where(ink_agreement.c.client_id == drop.client_id)
            )
        ]  # fmt: skip
        reconciliation = reconcile_payouts(conn, agreements, business_date)
        record_notices(conn, drop, results, business_date=business_date, now=now, run_id=run_id)
    return {
        "client_id": drop.client_id,
        "drop": drop.describe(),
        "waiting": len(waiting),
        "skipped_known": len(waiting) - len(new),
        "files": results,
        # lump payouts given to an agreement by the payer account alone (`payouts.log_payouts`)
        "payouts_picked": sum(f.get("payouts_picked", 0) for f in results),
        "reconciliation": reconciliation,
    }


def plain_name(name: str) -> bool:
    """True for a name that is a file name only: no path separator, not '.' or '..', no control
    character. A bank's server may list any name; another is never read, so never archived
    outside the client's folder."""
    return (
        bool(name)
        and name not in (".", "..")
        and not any(c in name for c in "/\\")
        and not any(ord(c) < 32 or ord(c) == 127 for c in name)
    )


def _refused(drop, name: str) -> dict:
    """A listed name that is not a plain file name: reported, never read nor logged."""
    error = f"{name!r} in {drop.describe()} is not a plain file name; not read"
    log.warning("client %s: %s", drop.client_id, error)
    return {"client_id": drop.client_id, "file_name": name, "status": "refused", "error": error}


def _vanished(drop, name: str) -> dict:
    """A file listed in the drop but gone when read: reported, not logged (read when it is back)."""
    error = f"{name}: listed in {drop.describe()} but gone when read; not imported"
    log.warning("client %s: %s", drop.client_id, error)
    return {"client_id": drop.client_id, "file_name": name, "status": "vanished", "error": error}


NOTICE_STATUSES = ("refused", "vanished")


def record_notices(
    conn: Connection, drop, results: list[dict], *, business_date: date, now: datetime, run_id=None
) -> int:
    """Keep the drop's ``refused`` and ``vanished`` files of the day in ``ink_bank_notice`` (they
    are in no file log) for the day's report, each (status, name) once per client and day: a
    rerun, or a run beside this one, adds nothing (``ON CONFLICT DO NOTHING`` on the table's
    unique key, so two runs at once never fail on it). Returns how many it was given."""
    wanted = sorted(
        {(r["status"], r["file_name"]) for r in results if r["status"] in NOTICE_STATUSES}
    )
    if not wanted:
        return 0
    rows = [
        {
            "client_id": drop.client_id,
            "business_date": business_date,
            "status": status,
            "file_name": name,
            "drop": drop.describe(),
            "run_id": run_id,
            "at": now,
        }
        for status, name in wanted
    ]
    conn.execute(_insert_new(conn, ink_bank_notice, NOTICE_KEY), rows)
    return len(rows)


NOTICE_KEY = ("client_id", "business_date", "status", "file_name")  # uq_ink_bank_notice_...


def _insert_new(conn: Connection, table, key: tuple[str, ...]):
    """An INSERT into ``table`` that skips rows whose ``key`` is there already (committed by
    another transaction too: PostgreSQL waits for it, then skips)."""
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    return dialect_insert(table).on_conflict_do_nothing(index_elements=list(key))


def log_summary(results: list[dict]) -> dict:
    """Log one line per client and return the day's totals (files by status, payments by kind,
    reconciliation verdicts, payouts picked by their account alone)."""
    totals: dict = {"clients": len(results), "files": {}, "payments": {}, "reconciliation": {}}
    totals["payouts_picked"] = sum(r.get("payouts_picked", 0) for r in results)
    for result in results:
        for file in result["files"]:
            totals["files"][file["status"]] = totals["files"].get(file["status"], 0) + 1
            for kind in (
                "direct",
                "direct_at_collection",
                "unmatched",
                "agency_payout",
                "collection",
            ):
                if kind in file:
                    totals["payments"][kind] = totals["payments"].get(kind, 0) + file[kind]
        for key in ("matched", "differs", "missing"):
            value = result["reconciliation"].get(key, 0)
            totals["reconciliation"][key] = totals["reconciliation"].get(key, 0) + value
        log.info(
            "client %s: %s files waiting, %s new: %s; payouts %s",
            result["client_id"],
            result["waiting"],
            len(result["files"]),
            ", ".join(f"{f['file_name']} {f['status']}" for f in result["files"]) or "-",
            result["reconciliation"],
        )
    return totals
