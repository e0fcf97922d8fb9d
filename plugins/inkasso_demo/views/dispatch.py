"""What the demo prints after a day, and its read-back check of every delivered file."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
from sqlalchemy import Engine, and_, func, select

from inkasso.db.schema import ink_agreement, ink_case, ink_dispatch_hold, ink_file_log
from inkasso.formats import load_layout, load_profile
from inkasso.money.amounts import format_money


def day_files(engine: Engine, day: date, kind: str = "new_cases") -> pd.DataFrame:
    """The outgoing files of ``kind`` for ``day`` with their agreement."""
    stmt = (
        select(ink_file_log, ink_agreement.c.agency, ink_agreement.c.mode)
        .join(ink_agreement, ink_agreement.c.agreement_id == ink_file_log.c.agreement_id)
        .where(
            and_(
                ink_file_log.c.business_date == day,
                ink_file_log.c.direction == "out",
                ink_file_log.c.kind == kind,
            )
        )
        .order_by(ink_file_log.c.agreement_id, ink_file_log.c.file_id)
    )
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(stmt).mappings().all())


def print_day(engine: Engine, day: date, sftp_root: Path) -> None:
    """Print files per agency with paths, cases, amounts, and the holds with reasons."""
    files = day_files(engine, day)
    print(f"\n=== inkasso_dispatch {day} ===")
    if files.empty:
        print("no files")
    for f in files.itertuples():
        where = _delivered_path(f, sftp_root) or f.remote_path or f.path
        print(
            f"{f.agreement_id:18} {f.status:9} {f.record_count:5} cases {format_money(f.amount_total):>14}  {where}"
        )
    with engine.connect() as conn:
        holds = pd.DataFrame(
            conn.execute(
                select(
                    ink_dispatch_hold.c.agreement_id,
                    ink_dispatch_hold.c.reason,
                    func.count().label("n"),
                )
                .where(ink_dispatch_hold.c.business_date == day)
                .group_by(ink_dispatch_hold.c.agreement_id, ink_dispatch_hold.c.reason)
                .order_by(ink_dispatch_hold.c.agreement_id, ink_dispatch_hold.c.reason)
            ).all()
        )
        opened = conn.execute(select(func.count()).where(ink_case.c.business_date == day)).scalar()
    print(f"cases opened for {day}: {opened}")
    if not holds.empty:
        print("held back (invoices stay marked, reason):")
        for h in holds.itertuples():
            print(f"  {h.agreement_id:18} {h.reason:24} {h.n}")


def _delivered_path(f, sftp_root: Path) -> str | None:
    if f.status == "delivered" and f.mode == "sftp":
        return str(sftp_root / f.agreement_id / f.remote_path.lstrip("/"))
    return None


def delivered_bytes(f, sftp_root: Path) -> bytes:
    """The bytes of a delivered file as the agency has them: on the simulator's disk for SFTP,
    in the manual-export outbox otherwise (``f`` is a file-log row with the agreement's mode)."""
    from airflow.sdk import ObjectStoragePath

    local = _delivered_path(f, sftp_root)
    return Path(local).read_bytes() if local else ObjectStoragePath(f.remote_path).read_bytes()


def read_back_day(
    engine: Engine,
    day: date,
    sftp_root: Path,
    kind: str,
    check: Callable[[object, pd.DataFrame], str | None],
) -> list[str]:
    """Read every file of ``kind`` delivered for ``day`` back with the project's reader.

    ``check(f, details)`` compares one file's records with what was logged and returns the
    problem, or None; a file not delivered yet is a problem of its own.
    """
    problems = []
    for f in day_files(engine, day, kind).itertuples():
        if f.status == "written":
            problems.append(f"{f.file_name}: not delivered yet")
            continue
        layout = load_layout(load_profile(f.agency).file(kind).layout)
        problem = check(f, layout.read(delivered_bytes(f, sftp_root), f.file_name).details())
        if problem:
            problems.append(problem)
    return problems


def verify_delivered(engine: Engine, day: date, sftp_root: Path) -> list[str]:
    """Read every file delivered for ``day`` back with the project's reader; list disagreements."""

    def check(f, parsed: pd.DataFrame) -> str | None:
        with engine.connect() as conn:
            cases = pd.DataFrame(
                conn.execute(
                    select(ink_case.c.case_id, ink_case.c.sent_amount).where(
                        ink_case.c.file_id == f.file_id
                    )
                ).all(),
                columns=["case_id", "sent_amount"],
            )
        got = dict(
            zip(parsed["case_id"].astype(int), parsed["remaining_amount"].astype(int), strict=True)
        )
        want = dict(
            zip(cases["case_id"].astype(int), cases["sent_amount"].astype(int), strict=True)
        )
        if got != want:
            return f"{f.file_name}: {len(got)} records read back, {len(want)} cases opened, or amounts differ"
        return None

    return read_back_day(engine, day, sftp_root, "new_cases", check)
