"""Inbound: read, check and apply one closure file (Lowell layout, settlement on) and print one
table row per database beside the floor of the same rows.

Floors: PostgreSQL's ``COPY`` of the file's records into a temporary table; SQLite: reading the
same rows from the file (decode and split) plus writing them with one ``executemany`` in one
transaction. Peak RSS is sampled during the flow only (the seed is not counted).

Each database's row goes to ``bench/table.py``'s one table (``make bench``), target 5x on
PostgreSQL and 10x on SQLite, followed by the seconds of each step.

Run: ``.venv/bin/python bench/bench_inbound.py [--rows N | --large | --huge] [--db sqlite|postgres|both]``
(default 50,000 records; ``--large`` 200,000; ``--huge`` 1,000,000). PostgreSQL:
``INKASSO_BENCH_PG`` (default ``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``); a
database of its own is created and dropped.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # peak_rss

from peak_rss import PeakRss  # noqa: E402
from table import record  # noqa: E402

from inkasso.agreements import Agreement  # noqa: E402
from inkasso.db.engine import engine_for_url  # noqa: E402
from inkasso.db.migrate import upgrade  # noqa: E402
from inkasso.db.schema import (  # noqa: E402
    erp_client,
    erp_customer,
    erp_metadata,
    ink_agreement,
    ink_file_log,  # noqa: E402
)
from inkasso.formats import load_layout, load_profile  # noqa: E402
from inkasso.inbound.apply import apply_closure  # noqa: E402
from inkasso.inbound.validate import (  # noqa: E402
    check_details,
    check_header,
    check_suite,
    parse_file,
    read_cases,
)

PG_ADMIN = os.environ.get(
    "INKASSO_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
AG = Agreement(
    agreement_id="lowell_no",
    client_id=1,
    agency="lowell",
    country="NO",
    customer_no_at_agency="40012",
    mode="sftp",
    sftp_conn_id="c",
    interim_account="1684",
    booking_mode="settlement",
)
SENT = dt.date(2026, 10, 1)
DAY = dt.date(2026, 11, 10)
NOW = dt.datetime(2026, 11, 10, 5, tzinfo=dt.UTC)
FLOW = "inbound closures (parse, checks, apply)"
TARGET = {"PostgreSQL": 5, "SQLite": 10}  # the ratio to the floor (issue 12)


def bulk_write(conn, table: str, frame: pd.DataFrame) -> None:
    """COPY on PostgreSQL, one executemany of tuples on SQLite (dates as ISO text)."""
    if conn.dialect.name == "postgresql":
        buffer = io.StringIO()
        frame.to_csv(buffer, header=False, index=False)
        buffer.seek(0)
        with conn.connection.dbapi_connection.cursor() as cur:
            cur.copy_expert(
                f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH CSV", buffer
            )
        return
    rows = list(
        frame.astype(object).map(lambda v: v.isoformat() if isinstance(v, dt.date) else v)
        .itertuples(index=False, name=None)
    )  # fmt: skip
    marks = ", ".join("?" for _ in frame.columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES ({marks})", rows)


def seed(engine, rows: int) -> np.ndarray:
    """One client, agreement and customer; ``rows`` invoices at collection with registered cases."""
    rng = np.random.default_rng(7)
    amounts = rng.integers(5_000, 5_000_000, rows)
    erp_metadata.create_all(engine)
    upgrade(engine)
    ids = np.arange(1, rows + 1)
    with engine.begin() as conn:
        conn.execute(sa.insert(erp_client).values(
            client_id=1, name="Bench AS", org_no="999", country="NO", currency="NOK",
            min_collection_amount=5000, default_bank_account="1"))  # fmt: skip
        conn.execute(sa.insert(erp_customer).values(
            customer_id=1, client_id=1, customer_no="1", name="Ola", is_organisation=False,
            national_id="x", country="NO"))  # fmt: skip
        conn.execute(sa.insert(ink_agreement).values(
            agreement_id=AG.agreement_id, client_id=1, agency="lowell", country="NO",
            customer_no_at_agency=AG.customer_no_at_agency, agency_bank_account="1",
            mode="sftp", sftp_conn_id="c", booking_mode="settlement"))  # fmt: skip
        conn.execute(sa.insert(ink_file_log).values(
            file_id=1, client_id=1, agreement_id=AG.agreement_id, direction="out",
            kind="new_cases", file_name="LS", business_date=SENT, status="delivered", path="x",
            sha256="x", size_bytes=1, record_count=rows, amount_total=0, created_at=NOW))  # fmt: skip
        bulk_write(conn, "erp_invoice", pd.DataFrame({
            "invoice_id": ids, "client_id": 1, "customer_id": 1, "invoice_no": ids.astype(str),
            "invoice_date": SENT, "due_date": SENT, "currency": "NOK", "original_amount": amounts,
            "remaining_amount": amounts, "kid": "1", "reminder_count": 0,
            "status": "at_collection", "disputed": False, "marked_for_collection": False,
            "addr_changed_manually": False}))  # fmt: skip
        bulk_write(conn, "ink_case", pd.DataFrame({
            "case_id": ids, "agreement_id": AG.agreement_id, "invoice_id": ids,
            "customer_id": 1, "file_id": 1, "status": "registered", "is_open": True,
            "agency_case_ref": "L" + pd.Series(ids).astype(str), "original_amount": amounts,
            "sent_amount": amounts, "currency": "NOK", "business_date": SENT,
            "opened_at": NOW.isoformat(" "), "collected_amount": 0}))  # fmt: skip
    with engine.begin() as conn:  # a live ERP's tables have planner statistics
        for table in ("erp_invoice", "ink_case"):
            conn.execute(sa.text(f"ANALYZE {table}"))
    return amounts


def closure_frame(amounts: np.ndarray) -> pd.DataFrame:
    """Closures of every kind for every case, amounts plausible."""
    rows = len(amounts)
    ids = np.arange(1, rows + 1)
    codes = np.array(["BET", "DEL", "AVS", "TIL", "UIN"])[ids % 5]
    share = np.select([codes == "BET", codes == "DEL"], [100, 40], 0)
    collected = amounts * share // 100
    return pd.DataFrame({
        "case_id": ids, "agency_case_ref": "L" + pd.Series(ids).astype(str),
        "closure_status": codes, "collected_amount": collected.astype("int64"),
        "remaining_amount": (amounts - collected).astype("int64"), "closure_date": DAY})  # fmt: skip


def run_flow(engine, data: bytes, name: str, rows: int) -> dict:
    """Parse, data checks, domain checks and apply in one transaction; seconds per step."""
    profile = load_profile("lowell")
    steps: dict[str, float] = {}
    start = time.perf_counter()
    parsed = parse_file(profile, "closure", data, name, DAY)
    assert not parsed.issues and not check_header(parsed, AG, DAY)
    steps["parse"] = time.perf_counter() - start
    assert not check_suite(parsed)
    steps["data checks"] = time.perf_counter() - start - sum(steps.values())
    with engine.begin() as conn:
        cases = read_cases(conn, AG.agreement_id, parsed.details["case_id"])
        issues, merged = check_details(parsed, cases, AG, profile, DAY)
        assert not issues, issues[:3]
        steps["domain checks"] = time.perf_counter() - start - sum(steps.values())
        out = apply_closure(conn, [merged], AG, 1, name, NOW)
    steps["apply"] = time.perf_counter() - start - sum(steps.values())
    assert sum(out["closures"].values()) == rows
    return steps


def floor(engine, frame: pd.DataFrame, data: bytes) -> float:
    """PostgreSQL: COPY of the records. SQLite: read the lines plus one executemany of them."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TEMPORARY TABLE closure_copy (case_id bigint, agency_case_ref text, "
            "closure_status text, collected_amount bigint, remaining_amount bigint, "
            "closure_date date)"))  # fmt: skip
        start = time.perf_counter()
        if engine.dialect.name == "sqlite":
            lines = data.decode("latin-1").splitlines()
            assert len(lines) >= len(frame)
        bulk_write(conn, "closure_copy", frame)
        return time.perf_counter() - start


def bench(url: str, rows: int) -> tuple[dict, float, int]:
    """Seed, write the file, run the flow; (steps, floor seconds, peak RSS bytes)."""
    engine = engine_for_url(url)
    amounts = seed(engine, rows)
    spec = load_profile("lowell").files["closure"]
    name = spec.file_name(AG.customer_no_at_agency, dt.datetime(2026, 11, 10, 5, 50))
    frame = closure_frame(amounts)
    data = load_layout(spec.layout).write({"customer_no": "40012", "file_date": DAY}, frame)
    with PeakRss() as rss:
        steps = run_flow(engine, data, name, rows)
    low = floor(engine, frame, data)
    engine.dispose()
    return steps, low, rss.peak


def with_postgres(fn):
    """Run ``fn(url)`` on a new PostgreSQL database, dropped after."""
    name = f"inkasso_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        return fn(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    """Per database: one row of the table (flow, scale, seconds, floor, ratio, peak RSS), then
    the seconds of each step."""
    import great_expectations  # noqa: F401  (imported once per worker; not part of the timings)

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=50_000)
    parser.add_argument("--large", action="store_const", dest="rows", const=200_000)
    parser.add_argument("--huge", action="store_const", dest="rows", const=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            report("SQLite", args.rows, *bench(f"sqlite:///{tmp}/bench.sqlite", args.rows))
    if args.db in ("postgres", "both"):
        report("PostgreSQL", args.rows, *with_postgres(lambda url: bench(url, args.rows)))


def report(db: str, rows: int, steps: dict, low: float, peak: int) -> None:
    """The database's row of the one table (``bench/table.py``), then its seconds per step."""
    record(FLOW, f"{rows:,} closures", db, sum(steps.values()), low, target=TARGET[db],
           peak_mb=round(peak / 2**20))  # fmt: skip
    print("    steps: " + ", ".join(f"{k} {v:.2f} s" for k, v in steps.items()), flush=True)


if __name__ == "__main__":
    main()
