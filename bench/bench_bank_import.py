"""Import one bank file of N payments (default 300,000) on SQLite and PostgreSQL.

Prints the time to read the BgMax file, to book it (stage, match by KID, record, apply to the
invoices, payouts) and, beside it, the time PostgreSQL's COPY alone takes to load the same rows
into a plain table: the floor any import into PostgreSQL stands on.

Prints one row per database of ``bench/table.py``'s one table (``make bench``): flow, scale,
seconds (read and book), floor, ratio, target (5x PostgreSQL, 10x SQLite), peak RSS; then what
was booked.
Floors: PostgreSQL's COPY of the payments into a plain table; SQLite: reading the file's lines
plus one ``executemany`` of the payments in one transaction.

Run: ``.venv/bin/python bench/bench_bank_import.py [--payments N | --large | --huge]
[--pg ADMIN_URL]`` (default 50,000 payments; ``--large`` 300,000; ``--huge`` 1,000,000).
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
os.environ.setdefault("AIRFLOW_HOME", tempfile.mkdtemp(prefix="bench-bank-"))

from peak_rss import PeakRss  # noqa: E402
from table import record  # noqa: E402

from inkasso.bank.bgmax import write_bgmax  # noqa: E402
from inkasso.bank.importer import import_bank_file  # noqa: E402
from inkasso.bank.model import PAYMENT_COLUMNS  # noqa: E402
from inkasso.db.engine import engine_for_url  # noqa: E402
from inkasso.db.migrate import upgrade  # noqa: E402
from inkasso.db.schema import erp_client, erp_customer, erp_metadata, ink_agreement  # noqa: E402

DAY = dt.date(2026, 11, 2)
AGENCY_ACCOUNT = "55551234"
FLOW = "bank import BgMax (read and book)"
TARGET = {"PostgreSQL": 5, "SQLite": 10}  # the ratio to the floor (issue 12)


def invoices(n: int) -> pd.DataFrame:
    """``n`` open invoices of client 1 with distinct KIDs."""
    ids = np.arange(1, n + 1)
    return pd.DataFrame(
        {
            "invoice_id": ids,
            "client_id": 1,
            "customer_id": 1,
            "invoice_no": (ids + 10_000_000).astype(str),
            "invoice_date": DAY - dt.timedelta(days=40),
            "due_date": DAY - dt.timedelta(days=10),
            "currency": "SEK",
            "original_amount": 100_000 + ids % 9000,
            "remaining_amount": 100_000 + ids % 9000,
            "kid": pd.Series(ids + 70_000_000_000).astype(str),
            "reminder_count": 0,
            "status": np.where(ids % 50 == 0, "at_collection", "open"),
            "disputed": False,
            "marked_for_collection": False,
            "addr_changed_manually": False,
        }
    )


def payments(n: int, inv: pd.DataFrame) -> pd.DataFrame:
    """``n`` payments: most by a KID, one in 50 unmatched, 20 agency payouts."""
    rng = np.random.default_rng(5)
    pick = rng.choice(len(inv), n, replace=False)
    kids = inv["kid"].to_numpy()[pick].astype(object)
    kids[::50] = "99999999999"
    payer = rng.integers(1_000_000, 4_999_999, n).astype(str).astype(object)
    payer[:20] = AGENCY_ACCOUNT
    return pd.DataFrame(
        {
            "payment_ref": [f"B{i:09d}" for i in range(n)],
            "payer_account": payer,
            "reference": kids,
            "amount": inv["remaining_amount"].to_numpy()[pick].astype("int64"),
            "payment_date": DAY - dt.timedelta(days=1),
            "payee_account": "58410000010098",
            "payee_giro": "9912346",  # the client's bankgiro: the file is its own
            "currency": "SEK",
            "payer_name": "",
            "line": 0,
        }
    )[list(PAYMENT_COLUMNS)]


def setup(url: str, inv: pd.DataFrame) -> sa.Engine:
    """Tables, one client, its agreement, one customer and the invoices."""
    engine = engine_for_url(url)
    erp_metadata.create_all(engine)
    upgrade(engine)
    with engine.begin() as conn:
        conn.execute(sa.insert(erp_client).values(
            client_id=1, name="Bench AB", org_no="556000-0000", country="SE", currency="SEK",
            min_collection_amount=0, default_bank_account="9912346"))  # fmt: skip
        conn.execute(sa.insert(ink_agreement).values(
            agreement_id="bench", client_id=1, agency="lowell", country="SE",
            customer_no_at_agency="1", agency_bank_account=AGENCY_ACCOUNT, mode="manual",
            booking_mode="settlement"))  # fmt: skip
        conn.execute(sa.insert(erp_customer).values(
            customer_id=1, client_id=1, customer_no="1", name="Kund", is_organisation=False,
            national_id="x", country="SE"))  # fmt: skip
        copy_or_insert(conn, "erp_invoice", inv)
    with engine.begin() as conn:  # a live ERP's tables have planner statistics
        conn.execute(sa.text("ANALYZE erp_invoice"))
    return engine


def copy_or_insert(conn, table: str, frame: pd.DataFrame) -> None:
    """COPY on PostgreSQL, one executemany of tuples on SQLite (dates as ISO text)."""
    if conn.dialect.name == "postgresql":
        buffer = io.StringIO()
        frame.to_csv(buffer, header=False, index=False)
        buffer.seek(0)
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.copy_expert(f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH CSV", buffer)
        cursor.close()
    else:
        rows = list(
            frame.astype(object).map(lambda v: v.isoformat() if isinstance(v, dt.date) else v)
            .itertuples(index=False, name=None)
        )  # fmt: skip
        marks = ", ".join("?" for _ in frame.columns)
        conn.exec_driver_sql(
            f"INSERT INTO {table} ({', '.join(frame.columns)}) VALUES ({marks})", rows
        )


def floor(engine: sa.Engine, pay: pd.DataFrame, data: bytes) -> float:
    """PostgreSQL: COPY of the payments into a plain table. SQLite: read the file's lines plus
    one executemany of the payments, in one transaction."""
    with engine.begin() as conn:
        conn.execute(sa.text(
            "CREATE TEMPORARY TABLE copy_floor (payment_ref text, payer_account text, "
            "reference text, amount bigint, payment_date date, payee_account text, "
            "payee_giro text, currency text, payer_name text, line int)"))  # fmt: skip
        started = time.perf_counter()
        if engine.dialect.name == "sqlite":
            assert len(data.decode("latin-1").splitlines()) >= len(pay)
        copy_or_insert(conn, "copy_floor", pay)
        return time.perf_counter() - started


def bench(url: str, n: int, data: bytes, pay: pd.DataFrame, inv: pd.DataFrame) -> dict:
    """Set up, then read and book the file; seconds, floor, peak RSS and the booked counts."""
    from airflow.sdk import ObjectStoragePath

    engine = setup(url, inv)
    base = ObjectStoragePath("file://" + tempfile.mkdtemp(prefix="bench-bank-files-"))
    with PeakRss() as rss:
        started = time.perf_counter()
        result = import_bank_file(engine, 1, "BGMAX.bench.txt", data, business_date=DAY,
                                  base=base, now=dt.datetime.now(dt.UTC))  # fmt: skip
        seconds = time.perf_counter() - started
    assert result["status"] == "applied", result
    low = floor(engine, pay, data)
    engine.dispose()
    return {"seconds": seconds, "floor": low, "peak": rss.peak, "result": result}


def main() -> None:
    """Run the benchmark on SQLite and on PostgreSQL; one row of the table each."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=50_000)
    parser.add_argument("--large", action="store_const", dest="payments", const=300_000)
    parser.add_argument("--huge", action="store_const", dest="payments", const=1_000_000)
    parser.add_argument("--pg", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    args = parser.parse_args()
    n = args.payments
    inv = invoices(n * 2)
    pay = payments(n, inv)
    data = write_bgmax(pay, payee_bankgiro="9912346", written_at=dt.datetime(2026, 11, 2, 3))
    scale = f"{n:,} payments, {len(data) / 1e6:.1f} MB"
    if args.db in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as folder:
            report("SQLite", scale, bench(f"sqlite:///{folder}/bench.sqlite", n, data, pay, inv))
    if args.db in ("postgres", "both"):
        name = f"bench_bank_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(args.pg, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            url = args.pg.rsplit("/", 1)[0] + f"/{name}"
            report("PostgreSQL", scale, bench(url, n, data, pay, inv))
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()


def report(db: str, scale: str, r: dict) -> None:
    """The database's row of the one table (``bench/table.py``), then what was booked."""
    record(FLOW, scale, db, r["seconds"], r["floor"], target=TARGET[db],
           peak_mb=round(r["peak"] / 2**20))  # fmt: skip
    res = r["result"]
    print(f"    booked: direct {res['direct']:,}, unmatched {res['unmatched']:,}, "
          f"payouts {res['agency_payout']}", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
