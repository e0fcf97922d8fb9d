"""Corrections at volume: N direct payments, credit notes and recalls on N open cases of one
agreement -> ``prepare_corrections`` (collect set-based, read, write the Lowell file, log, events),
on PostgreSQL and SQLite, printed beside the time PostgreSQL's COPY takes to load N rows.

Run: ``.venv/bin/python bench/bench_corrections.py [rows]`` (PostgreSQL on 127.0.0.1:5432, or
``INKASSO_BENCH_PG`` as an admin URL). Each backend runs in its own process, so each peak RSS
(which includes loading the rows) is its own. Floor: PostgreSQL's COPY out of the payments and
adjustments plus COPY in of as many correction rows; SQLite reading the same rows plus one
executemany of as many rows in one transaction. Target: 5x (PostgreSQL), 10x (SQLite).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from inkasso.agreements import Agreement  # noqa: E402
from inkasso.corrections import prepare_corrections  # noqa: E402
from inkasso.db.migrate import upgrade  # noqa: E402
from inkasso.db.schema import erp_metadata  # noqa: E402

PG_ADMIN = os.environ.get(
    "INKASSO_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
DAY = date(2026, 11, 2)
OPENED = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
NOW = datetime(2026, 11, 3, 3, 30, tzinfo=UTC)
AGREEMENT = Agreement(
    agreement_id="lowell_no",
    client_id=1,
    agency="lowell",
    country="NO",
    customer_no_at_agency="40012",
    mode="sftp",
    sftp_conn_id="inkasso_sftp_lowell_no",
)


def tables(rows: int) -> dict[str, pd.DataFrame]:
    """The ERP and pipeline rows: ``rows`` invoices, each with an open case and one event."""
    rng = np.random.default_rng(11)
    ids = np.arange(1, rows + 1)
    amount = rng.integers(100, 5_000_000, rows)
    is_payment = ids % 3 != 0
    pay_ids, adj_ids = ids[is_payment], ids[~is_payment]
    return {
        "erp_client": pd.DataFrame(
            [
                {
                    "client_id": 1,
                    "name": "Nordlys Energi AS",
                    "org_no": "912345678",
                    "country": "NO",
                    "currency": "NOK",
                    "min_collection_amount": 5000,
                    "default_bank_account": "12345678903",
                    "register_lookup": True,
                    "report_recipients": "",
                }
            ]
        ),
        "erp_customer": pd.DataFrame(
            [
                {
                    "customer_id": 1,
                    "client_id": 1,
                    "customer_no": "1",
                    "name": "Kåre Ødegård",
                    "is_organisation": False,
                    "national_id": "01017012345",
                    "country": "NO",
                    "postal_source": "manual",
                }
            ]
        ),
        "erp_invoice": pd.DataFrame(
            {
                "invoice_id": ids,
                "client_id": 1,
                "customer_id": 1,
                "invoice_no": (ids + 1_000_000).astype(str),
                "invoice_date": date(2026, 9, 1),
                "due_date": date(2026, 9, 15),
                "currency": "NOK",
                "original_amount": amount,
                "remaining_amount": amount,
                "kid": (ids + 1_000_000).astype(str),
                "reminder_count": 2,
                "status": "at_collection",
                "disputed": False,
                "marked_for_collection": False,
                "addr_changed_manually": False,
            }
        ),
        "ink_agreement": pd.DataFrame(
            [
                {
                    "agreement_id": AGREEMENT.agreement_id,
                    "client_id": 1,
                    "agency": "lowell",
                    "country": "NO",
                    "customer_no_at_agency": AGREEMENT.customer_no_at_agency,
                    "agency_bank_account": "15030100000",
                    "mode": "sftp",
                    "sftp_conn_id": AGREEMENT.sftp_conn_id,
                    "reminder_service": False,
                    "interim_account": "1684",
                    "booking_mode": "bank",
                    "active": True,
                }
            ]
        ),
        "ink_file_log": pd.DataFrame(
            [
                {
                    "file_id": 1,
                    "client_id": 1,
                    "agreement_id": AGREEMENT.agreement_id,
                    "direction": "out",
                    "kind": "new_cases",
                    "file_name": "LS400122026110205000.txt",
                    "business_date": DAY,
                    "status": "delivered",
                    "path": "-",
                    "sha256": "-",
                    "size_bytes": 0,
                    "record_count": rows,
                    "amount_total": int(amount.sum()),
                    "created_at": OPENED,
                }
            ]
        ),
        "ink_case": pd.DataFrame(
            {
                "case_id": ids,
                "agreement_id": AGREEMENT.agreement_id,
                "invoice_id": ids,
                "customer_id": 1,
                "file_id": 1,
                "status": "registered",
                "is_open": True,
                "agency_case_ref": "L" + pd.Series(ids).astype(str).str.zfill(9),
                "original_amount": amount,
                "sent_amount": amount,
                "currency": "NOK",
                "business_date": DAY,
                "opened_at": OPENED,
                "collected_amount": 0,
            }
        ),
        "erp_payment": pd.DataFrame(
            {
                "payment_id": pay_ids,
                "client_id": 1,
                "invoice_id": pay_ids,
                "bank_file": "OCR.20261103.txt",
                "payment_ref": pay_ids.astype(str),
                "payer_account": "12345678903",
                "reference": (pay_ids + 1_000_000).astype(str),
                "amount": amount[is_payment] // 3,
                "payment_date": DAY + timedelta(days=1),
                "kind": "direct",
                "method": "bank",
                "booked_at": NOW - timedelta(minutes=30),
            }
        ),
        "erp_invoice_adjustment": pd.DataFrame(
            {
                "adjustment_id": adj_ids,
                "invoice_id": adj_ids,
                "kind": np.where(adj_ids % 2 == 0, "credit_note", "recall"),
                "amount": amount[~is_payment],
                "adjustment_date": DAY,
                "text": "",
            }
        ),
    }


def load(engine: sa.Engine, data: dict[str, pd.DataFrame]) -> None:
    """Create the schema and load the rows (COPY on PostgreSQL, executemany on SQLite)."""
    erp_metadata.create_all(engine)
    upgrade(engine)
    with engine.begin() as conn:
        for name, frame in data.items():
            if engine.dialect.name == "postgresql":
                copy(conn, name, frame)
            else:
                frame.to_sql(name, conn, if_exists="append", index=False, chunksize=50_000)
        if engine.dialect.name == "postgresql":
            for table, col in (
                ("ink_correction", "correction_id"),
                ("ink_file_log", "file_id"),
                ("ink_case_event", "event_id"),
            ):
                conn.execute(
                    sa.text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{col}'), "
                        f"(SELECT COALESCE(MAX({col}), 0) + 1 FROM {table}), false)"
                    )
                )


def copy(conn, table: str, frame: pd.DataFrame) -> None:
    """COPY a frame into a PostgreSQL table (CSV through the driver's copy_expert)."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False, na_rep="\\N")
    buf.seek(0)
    cur = conn.connection.dbapi_connection.cursor()
    cur.copy_expert(
        f"COPY {table} ({', '.join(frame.columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')", buf
    )
    cur.close()


def copy_time(engine: sa.Engine, rows: int) -> float:
    """Seconds PostgreSQL's COPY takes to load ``rows`` correction-shaped rows into a fresh table."""
    frame = pd.DataFrame(
        {
            "case_id": np.arange(1, rows + 1),
            "agreement_id": AGREEMENT.agreement_id,
            "source": "payment",
            "source_id": np.arange(1, rows + 1),
            "correction_type": "DP",
            "amount": np.arange(1, rows + 1) * 7,
            "correction_date": DAY,
            "created_at": NOW,
        }
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "CREATE TEMP TABLE copy_bench (case_id int, agreement_id varchar(40), "
                "source varchar(20), source_id int, correction_type varchar(2), amount bigint, "
                "correction_date date, created_at timestamptz)"
            )
        )
        start = time.perf_counter()
        copy(conn, "copy_bench", frame)
        return time.perf_counter() - start


def measure(engine: sa.Engine, rows: int, base: Path) -> dict[str, float]:
    """Load, then time the first run (all rows reported) and a rerun (nothing new)."""
    start = time.perf_counter()
    load(engine, tables(rows))
    loaded = time.perf_counter() - start
    start = time.perf_counter()
    result = prepare_corrections(engine, AGREEMENT, DAY + timedelta(days=1), base, now=NOW)
    first = time.perf_counter() - start
    assert result["status"] == "written" and result["corrections"] == rows, result
    start = time.perf_counter()
    again = prepare_corrections(
        engine, AGREEMENT, DAY + timedelta(days=1), base, now=NOW + timedelta(hours=1)
    )
    rerun = time.perf_counter() - start
    assert again["status"] == "nothing_to_report", again
    size = (base / "outbox" / AGREEMENT.agreement_id / result["file_name"]).stat().st_size
    return {"load": loaded, "first": first, "rerun": rerun, "bytes": size}


def sqlite_floor(engine: sa.Engine, rows: int) -> float:
    """SQLite's floor: read the source rows (payments, adjustments) and write ``rows``
    correction-shaped rows with one executemany in one transaction."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "CREATE TEMP TABLE copy_bench (case_id int, agreement_id text, source text,"
            " source_id int, correction_type text, amount bigint, correction_date date,"
            " created_at timestamp)"
        )
        start = time.perf_counter()
        for table in ("erp_payment", "erp_invoice_adjustment"):
            cur.execute(f"SELECT * FROM {table}")
            while cur.fetchmany(50_000):
                pass
        data = [
            (i, AGREEMENT.agreement_id, "payment", i, "DP", i * 7, "2026-11-02", "2026-11-03")
            for i in range(1, rows + 1)
        ]
        cur.executemany(f"INSERT INTO copy_bench VALUES ({', '.join('?' * 8)})", data)
        raw.commit()
        return time.perf_counter() - start
    finally:
        raw.close()


def pg_read_floor(engine: sa.Engine) -> float:
    """PostgreSQL's COPY out of the source rows (payments, adjustments)."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        start = time.perf_counter()
        for table in ("erp_payment", "erp_invoice_adjustment"):
            cur.copy_expert(f"COPY {table} TO STDOUT", io.StringIO())
        return time.perf_counter() - start
    finally:
        raw.close()


def child(backend: str, rows: int) -> None:
    """One backend in its own process (its own peak RSS); prints a JSON line."""
    import json
    import resource

    with tempfile.TemporaryDirectory() as tmp:
        if backend == "postgres":
            name = f"bench_corrections_{uuid.uuid4().hex[:8]}"
            admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
            engine = sa.create_engine(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}")
        else:
            engine = sa.create_engine(f"sqlite:///{tmp}/erp.sqlite")
        try:
            figures = measure(engine, rows, Path(tmp) / "files")
            if backend == "postgres":
                floor = pg_read_floor(engine) + copy_time(engine, rows)
            else:
                floor = sqlite_floor(engine, rows)
        finally:
            engine.dispose()
            if backend == "postgres":
                with admin.connect() as conn:
                    conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
                admin.dispose()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(figures | {"floor": floor, "rss_mb": rss}))


def main() -> None:
    """Print one table row per backend: seconds, floor, ratio beside the target, peak RSS."""
    import json
    import subprocess

    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], int(sys.argv[3]))
        return
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    print(f"corrections: {rows:,} events (2/3 direct payments, 1/3 credit notes and recalls)")
    print(
        f"{'flow':12} {'backend':9} {'rows':>9} {'seconds':>8} {'floor':>7} {'ratio':>7}"
        f" {'target':>7} {'peak RSS':>9} {'rerun s':>8} {'file MB':>8}"
    )
    for backend, target in (("postgres", 5), ("sqlite", 10)):
        out = subprocess.run(
            [sys.executable, __file__, "--child", backend, str(rows)],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        f = json.loads(out.strip().splitlines()[-1])
        ratio = f["first"] / f["floor"]
        try:  # make bench's one table (bench/table.py), where that exists
            from table import record

            record(
                "corrections",
                f"{rows:,} corrections",
                {"postgres": "PostgreSQL", "sqlite": "SQLite"}[backend],
                f["first"],
                f["floor"],
                target=target,
                peak_mb=int(f["rss_mb"]),
            )
        except ImportError:
            pass
        print(
            f"{'corrections':12} {backend:9} {rows:>9} {f['first']:>8.2f} {f['floor']:>7.2f}"
            f" {ratio:>6.1f}x {f'<={target}x':>7} {f['rss_mb']:>6.0f} MB {f['rerun']:>8.2f}"
            f" {f['bytes'] / 1e6:>8.1f}  {'ok' if ratio <= target else 'over'}"
        )


if __name__ == "__main__":
    main()
