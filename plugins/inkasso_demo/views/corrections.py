"""What the demo prints about a day's correction files, and a read-back check of them."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, and_, select

from inkasso.db.schema import ink_agreement, ink_case, ink_correction, ink_file_log
from inkasso.formats import load_layout, load_profile
from inkasso.money.amounts import format_money
from inkasso_demo.views.dispatch import delivered_bytes

TYPE_NAMES = {"DP": "direct payment", "CN": "credit note", "RC": "recall"}


def corrections_files(engine: Engine, day: date) -> pd.DataFrame:
    """The correction files of business day ``day`` with their agreement's agency and mode."""
    stmt = (
        select(ink_file_log, ink_agreement.c.agency, ink_agreement.c.mode)
        .join(ink_agreement, ink_agreement.c.agreement_id == ink_file_log.c.agreement_id)
        .where(
            and_(
                ink_file_log.c.business_date == day,
                ink_file_log.c.direction == "out",
                ink_file_log.c.kind == "corrections",
            )
        )
        .order_by(ink_file_log.c.agreement_id, ink_file_log.c.file_id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(stmt).mappings().all())


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


def verify_corrections_day(engine: Engine, day: date, sftp_root: Path) -> list[str]:
    """Read each delivered correction file of ``day`` back; list where it differs from the log."""
    problems = []
    for f in corrections_files(engine, day).itertuples():
        if f.status == "written":
            problems.append(f"{f.file_name}: not delivered yet")
            continue
        data = delivered_bytes(f, sftp_root)
        layout = load_layout(load_profile(f.agency).file("corrections").layout)
        details = layout.read(data, f.file_name).details()
        got = sorted(
            zip(
                details["case_id"].astype(int),
                details["correction_type"],
                details["amount"].astype(int),
                strict=True,
            )
        )
        rows = _corrections_of(engine, int(f.file_id))
        want = sorted(
            zip(
                rows["case_id"].astype(int),
                rows["correction_type"],
                rows["amount"].astype(int),
                strict=True,
            )
        )
        if got != want:
            problems.append(
                f"{f.file_name}: {len(got)} records read back, {len(want)} corrections logged, "
                "or they differ"
            )
    return problems
