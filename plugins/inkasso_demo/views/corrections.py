"""What the demo prints about a day's correction files, and a read-back check of them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, select

from inkasso.db.schema import ink_case, ink_correction
from inkasso.money.amounts import format_money
from inkasso_demo.views.dispatch import day_files, read_back_day

TYPE_NAMES = {"DP": "direct payment", "CN": "credit note", "RC": "recall"}


def corrections_files(engine: Engine, day: date) -> pd.DataFrame:
    """The correction files of business day ``day`` with their agreement's agency and mode."""
    return day_files(engine, day, "corrections")


def _corrections_of(engine: Engine, file_id: int) -> pd.DataFrame:
    stmt = (
        select(
            ink_correction.c.case_id,
            ink_correction.c.correction_type,
            ink_correction.c.amount,
            ink_correction.c.correction_date,
            ink_case.c.invoice_id,
        )
        .join(ink_case, ink_case.c.case_id == ink_correction.c.case_id)
        .where(ink_correction.c.file_id == file_id)
        .order_by(ink_correction.c.correction_id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(
            conn.execute(stmt).all(),
            columns=["case_id", "correction_type", "amount", "correction_date", "invoice_id"],
        )


def print_corrections_day(engine: Engine, day: date, *, limit: int = 5) -> None:
    """Print each correction file of ``day``: status, where it went, and its corrections by type.

    Up to ``limit`` corrections per file are listed one per line (case, invoice, type, amount).
    """
    files = corrections_files(engine, day)
    print(f"\n=== inkasso_corrections {day} ===")
    if files.empty:
        print("no correction files (nothing to report)")
        return
    for f in files.itertuples():
        print(
            f"{f.agreement_id:18} {f.status:9} {f.record_count:5} corrections "
            f"{format_money(int(f.amount_total)):>14}  {f.file_name} -> {f.remote_path or f.path}"
        )
        rows = _corrections_of(engine, int(f.file_id))
        for code, group in rows.groupby("correction_type"):
            print(
                f"  {TYPE_NAMES.get(code, code):15} {len(group):5} {format_money(int(group['amount'].sum())):>14}"
            )
        for r in rows.head(limit).itertuples():
            print(
                f"    case {r.case_id} invoice {r.invoice_id}: {TYPE_NAMES.get(r.correction_type)} "
                f"{format_money(int(r.amount))} dated {r.correction_date}"
            )


def _records(frame: pd.DataFrame) -> list[tuple[int, str, int]]:
    """(case, type, amount) of each correction in ``frame``, sorted."""
    return sorted(
        zip(
            frame["case_id"].astype(int),
            frame["correction_type"],
            frame["amount"].astype(int),
            strict=True,
        )
    )


def verify_corrections_day(engine: Engine, day: date, sftp_root: Path) -> list[str]:
    """Read each delivered correction file of ``day`` back; list where it differs from the log."""

    def check(f, details: pd.DataFrame) -> str | None:
        got = _records(details)
        want = _records(_corrections_of(engine, int(f.file_id)))
        if got != want:
            return (
                f"{f.file_name}: {len(got)} records read back, {len(want)} corrections logged, "
                "or they differ"
            )
        return None

    return read_back_day(engine, day, sftp_root, "corrections", check)
