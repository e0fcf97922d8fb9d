"""Recording one bank file's payments in the ERP: staged in bulk, matched and inserted set-based.

The payments frame is loaded into a temporary table (PostgreSQL: COPY; SQLite: one executemany),
matched once to the client's invoices by KID / OCR reference into a second temporary table
(``CREATE TABLE ... AS SELECT``; a payout from an account several agreements share goes to the
agreement of the paid invoice's case, `payout_groups`), from which one ``INSERT ... SELECT``
records every payment in ``erp_payment``, one ``UPDATE ... FROM`` lowers the paid invoices'
remaining amounts (a reversal raises one only by what it takes back beyond an over-payment) and
one query counts them. No statement per payment or per invoice. A file read
in chunks is staged chunk by chunk (`begin_stage`, `append_stage`) and booked once at the end
(`book_staged`), in one transaction.
"""

from __future__ import annotations

import re
from datetime import datetime

import pandas as pd
from sqlalchemy import Column, Connection, DateTime, MetaData, Table, bindparam, text

from inkasso.db.staging import load
from inkasso.sql import query
from inkasso.stamps import payment_booked_at

STAGE = "ink_bank_payment_stage"
MATCH = "ink_bank_payment_match"  # the staged payments with their invoice and kind
GROUP = "ink_bank_payout_group"  # per staged payout agreement, the agreements sharing its account
WORK_MEM = "64MB"  # per sort or hash of the booking statements; a 300 000-payment file needs ~40
STAGE_COLUMNS = (
    "line",
    "payment_ref",
    "payer_account",
    "reference",
    "amount",
    "payment_date",
    "currency",
    "payout_agreement_id",
)
_STAGE_TYPES = {  # the staging table's columns as `db.staging.load` converts them
    "line": "int",
    "payment_ref": "str",
    "payer_account": "str",
    "reference": "str",
    "amount": "int",
    "payment_date": "date",
    "currency": "str",
    "payout_agreement_id": "str",
}
_STAGE_TABLE = Table(STAGE, MetaData(), *(Column(name) for name in STAGE_COLUMNS))
_NOT_DIGIT = re.compile(r"\D")
# booked_at bound as a DateTime: on SQLite stored as ink_case.opened_at is (the driver's own
# text for a datetime differs, and the two are compared as text: an equal time would sort before)
_INSERT_PAYMENTS = query("erp/insert_bank_payments").bindparams(
    bindparam("booked_at", type_=DateTime(timezone=True))
)


def account_key(account: str | None) -> str:
    """An account number compared without separators and leading zeros ('0005841-0' -> '58410')."""
    return _NOT_DIGIT.sub("", account or "").lstrip("0")


def mark_payouts(payments: pd.DataFrame, agency_accounts: dict[str, str]) -> pd.Series:
    """Per payment, the agreement whose agency account paid it (None for everyone else).

    ``agency_accounts`` maps an agreement id to its ``agency_bank_account``, in the order of
    preference (`payouts.agency_accounts`: active first, then by id): of several agreements paid
    from one account the first is staged, and the match (`book_staged`) gives a payout by an
    invoice's KID to the agreement of the invoice's case among them (`payout_groups`).
    """
    by_key = _first_by_account(agency_accounts)
    keys = _account_keys(payments["payer_account"])
    return keys.map(by_key).where(keys != "", None).astype(object)


def payout_groups(agency_accounts: dict[str, str]) -> list[dict[str, str]]:
    """Rows of `GROUP`: per agreement `mark_payouts` stages, every agreement paid from its
    account (itself too), so the match can find the one whose case an invoice is."""
    by_key = _first_by_account(agency_accounts)
    return [
        {"payout_agreement_id": by_key[account_key(acc)], "agreement_id": agreement}
        for agreement, acc in agency_accounts.items()
        if account_key(acc)
    ]


def _first_by_account(agency_accounts: dict[str, str]) -> dict[str, str]:
    """Account key -> the first agreement (in the given order) paid from it."""
    by_key: dict[str, str] = {}
    for agreement, acc in agency_accounts.items():
        if account_key(acc):
            by_key.setdefault(account_key(acc), agreement)
    return by_key


def _account_keys(accounts: pd.Series) -> pd.Series:
    """`account_key` of a whole column: most accounts are digits only and just lose their
    leading zeros; only the others go through the regex (``isdecimal`` is what ``\\d`` matches)."""
    accounts = accounts.fillna("").astype(str)
    keys = accounts.str.lstrip("0")
    other = ~accounts.str.isdecimal() & (accounts != "")
    if other.any():
        keys[other] = accounts[other].str.replace(_NOT_DIGIT, "", regex=True).str.lstrip("0")
    return keys


def begin_stage(conn: Connection, agency_accounts: dict[str, str]) -> None:
    """(Re)create the empty staging table for one file's payments and the client's payout
    groups (`payout_groups`, a few rows), in the caller's transaction."""
    drop_stage(conn)
    conn.execute(query("erp/create_bank_payment_stage"))
    conn.execute(query("erp/create_bank_payout_group"))
    groups = payout_groups(agency_accounts)
    if groups:
        conn.execute(
            text(
                f"INSERT INTO {GROUP} (payout_agreement_id, agreement_id)"
                " VALUES (:payout_agreement_id, :agreement_id)"
            ),
            groups,
        )


def append_stage(conn: Connection, payments: pd.DataFrame, payouts: pd.Series) -> None:
    """Load some of a file's payments (one chunk, or all of them) into the staging table: one
    COPY on PostgreSQL, one executemany of tuples made column-wise on SQLite."""
    frame = payments.assign(payout_agreement_id=payouts)[list(STAGE_COLUMNS)]
    load(conn, _STAGE_TABLE, frame, _STAGE_TYPES)


def repeated_ref(conn: Connection) -> tuple[str, int, int] | None:
    """A payment reference the staged file holds twice: (reference, first line, next line)."""
    repeat = conn.execute(query("erp/select_bank_payment_repeat")).first()
    if repeat is None:
        return None
    ref, first = repeat
    line = conn.execute(
        text(f"SELECT MIN(line) FROM {STAGE} WHERE payment_ref = :ref AND line > :first"),
        {"ref": ref, "first": first},
    ).scalar()
    return str(ref), int(first), int(line)


def drop_stage(conn: Connection) -> None:
    """Drop one file's staging, payout group and match tables (in the caller's transaction)."""
    conn.execute(text(f"DROP TABLE IF EXISTS {MATCH}"))
    conn.execute(text(f"DROP TABLE IF EXISTS {GROUP}"))
    conn.execute(text(f"DROP TABLE IF EXISTS {STAGE}"))


def book_staged(
    conn: Connection, client_id: int, bank_file: str, booked_at: datetime
) -> dict[str, int]:
    """Book every payment staged for one file, set-based and once.

    Called once per file after all its chunks are staged: applying the payments sums them per
    invoice over the whole file, so it must not run per chunk. The matches are worked out once
    into a temporary table (`MATCH`) that the insert, the invoice update and the counts read; it
    stays for `payouts.log_payouts` until `drop_stage`. Returns counts: payments per kind
    (``collection``: a bank-mode agency paying an invoice by its KID), direct ones on invoices
    at collection, invoices changed.

    ``booked_at`` is the import's start time; the payments are stamped no earlier than the
    latest case already sent on their invoices (`stamps.payment_booked_at`; the caller holds
    `locks.lock_books`), so a payment the case was sent without counts as after it (reported).
    """
    params = {"client_id": client_id, "bank_file": bank_file}
    _bulk_settings(conn)
    conn.execute(text(f"DROP TABLE IF EXISTS {MATCH}"))
    conn.execute(query("erp/create_bank_payment_match"), params)
    # a reversal of more than its invoice was ever paid waits for a person (never a higher claim)
    conn.execute(query("erp/unmatch_reversals_beyond_paid"))
    _analyze(conn, MATCH, "invoice_id, kind, payout_agreement_id")
    booked_at = payment_booked_at(conn, booked_at)
    conn.execute(_INSERT_PAYMENTS, params | {"booked_at": booked_at})
    changed = conn.execute(query("erp/apply_direct_payments"), params | {"no": False}).rowcount
    summary = conn.execute(query("erp/summarize_bank_payments")).mappings().all()
    counts = dict.fromkeys(
        ("direct", "direct_at_collection", "unmatched", "agency_payout", "collection"), 0
    )
    for row in summary:
        counts[row["kind"]] = counts.get(row["kind"], 0) + int(row["payments"])
        counts["direct_at_collection"] += int(row["direct_at_collection"] or 0)
    return counts | {"invoices_changed": int(changed)}


def move_ended_invoices(conn: Connection, client_id: int) -> None:
    """An invoice whose case has ended moves on (``payout_pending`` -> ``paid``, ...) as money
    arrives. Call it once the file's payments are booked and its payouts logged: whether an
    agency's payout is still on its way is read from the logged KID payouts (``ink_payout``)."""
    conn.execute(query("erp/update_ended_invoice_status"), {"client_id": client_id, "no": False})


def _bulk_settings(conn: Connection) -> None:
    """PostgreSQL: statistics for the staged payments (a fresh temporary table has none) and,
    for this transaction only, memory enough that matching a file's references and ordering its
    payments hash and sort in memory instead of spilling to disk (the default 4 MB does)."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    _analyze(conn, STAGE, "reference, payout_agreement_id")


def _analyze(conn: Connection, table: str, columns: str) -> None:
    """PostgreSQL: row count and statistics of the columns the following joins use (ANALYZE
    samples a fixed number of rows, so it costs the same for a big file)."""
    if conn.dialect.name == "postgresql":
        conn.execute(text(f"ANALYZE {table} ({columns})"))
