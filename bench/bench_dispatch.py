"""Benchmark of the dispatch flow at a realistic scale, beside PostgreSQL's own COPY.

    PYTHONPATH=plugins .venv/bin/python bench/bench_dispatch.py [--customers 100000] [--backend postgres|sqlite|both]

Builds a demo ERP (deterministic generator), marks every open overdue invoice for collection (so
hundreds of thousands of invoices go out at once), then times, per backend:

- the read of the marked invoices (the ERP adapter query, chunked frames), the rules, and
- the whole ``prepare_new_cases`` of every agreement (read, rules, GX check, file writing, and the
  one transaction that opens the cases and puts the invoices at collection), and
- ``deliver_pending`` to the in-process SFTP agency (one connection per agreement),

and prints them beside PostgreSQL's ``COPY (query) TO STDOUT`` of the same rows and a
``COPY FROM STDIN`` of as many case rows: the floor any row-moving approach can reach.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
WORK = Path(tempfile.mkdtemp(prefix="inkasso-bench-"))
os.environ.setdefault("AIRFLOW_HOME", str(WORK / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

import sqlalchemy as sa  # noqa: E402

DAY = date(2026, 11, 2)
CUTOFF = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/inkasso_bench"


def fresh_database(backend: str) -> str:
    """An empty database URL for the backend."""
    if backend == "sqlite":
        path = WORK / "erp.sqlite"
        path.unlink(missing_ok=True)
        return f"sqlite:///{path}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text("DROP DATABASE IF EXISTS inkasso_bench WITH (FORCE)"))
        conn.execute(sa.text("CREATE DATABASE inkasso_bench"))
    admin.dispose()
    return PG_URL


def timed(label: str, fn, *args, **kwargs):
    """Run fn, print and return (result, seconds)."""
    started = time.perf_counter()
    result = fn(*args, **kwargs)
    seconds = time.perf_counter() - started
    print(f"  {label:44} {seconds:8.2f} s")
    return result, seconds


def copy_reference(url: str, marked: int) -> None:
    """PostgreSQL's own COPY of the marked-invoice query out, and of as many case rows in."""
    from inkasso.config import SQL_DIR

    sql = (SQL_DIR / "erp" / "select_marked_invoices.sql").read_text()
    sql = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    sql = (
        sql.replace(":yes", "true")
        .replace(":no", "false")
        .replace(":client_id", "i.client_id")
        .replace(":cutoff", f"'{CUTOFF.isoformat()}'")
    )
    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        buf = io.StringIO()
        started = time.perf_counter()
        cur.copy_expert(f"COPY ({sql}) TO STDOUT", buf)
        out_s = time.perf_counter() - started
        rows = buf.getvalue().count("\n")
        cur.execute(
            "CREATE TEMP TABLE copy_cases (agreement_id text, invoice_id int, customer_id int, file_id int,"
            " status text, original_amount bigint, sent_amount bigint, currency text, business_date date,"
            " opened_at timestamptz)"
        )
        line = (
            "lowell_no\t{i}\t{i}\t1\tsent\t10000\t10000\tNOK\t2026-11-02\t2026-11-02 05:00:00+00\n"
        )
        data = io.StringIO("".join(line.format(i=i) for i in range(marked)))
        started = time.perf_counter()
        cur.copy_expert("COPY copy_cases FROM STDIN", data)
        in_s = time.perf_counter() - started
        raw.rollback()
    finally:
        raw.close()
        engine.dispose()
    print(f"  {'PostgreSQL COPY out of the marked rows':44} {out_s:8.2f} s  ({rows} rows)")
    print(f"  {'PostgreSQL COPY in of as many case rows':44} {in_s:8.2f} s")


def run(backend: str, customers: int) -> None:
    """Build the ERP on one backend and time the dispatch phases."""
    from airflow.sdk import ObjectStoragePath

    from inkasso import erp
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso.demo_erp.generator import create_demo_erp
    from inkasso.dispatch import deliver_pending, load_agreements, prepare_new_cases
    from inkasso.register import TablePersonRegister
    from inkasso.rules import apply_dispatch_rules
    from inkasso.simulator.agency import start_agency

    print(f"\n== {backend}: {customers} customers ==")
    url = fresh_database(backend)
    engine = engine_for_url(url)
    upgrade(engine)
    timed(
        "generate the demo ERP", create_demo_erp, engine, seed=1, customers=customers, start_day=DAY
    )
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "UPDATE erp_invoice SET marked_for_collection = :y, marked_at = :at "
                "WHERE status = 'open' AND due_date < :day AND remaining_amount > 0"
            ),
            {"y": True, "at": datetime(2026, 11, 1, 12, tzinfo=UTC), "day": DAY},
        )
        invoices = conn.execute(sa.text("SELECT COUNT(*) FROM erp_invoice")).scalar()
        marked = conn.execute(
            sa.text("SELECT COUNT(*) FROM erp_invoice WHERE marked_for_collection = :y"),
            {"y": True},
        ).scalar()
    print(f"  {invoices} invoices, {marked} marked for collection")

    agreements = load_agreements(engine)
    first = agreements[0]
    with engine.connect() as conn:
        frame, _ = timed(
            f"read marked invoices ({first.agreement_id})",
            erp.read_marked_invoices,
            conn,
            first.client_id,
            CUTOFF,
        )
        client = erp.read_client(conn, first.client_id)
        timed(
            f"rules on {len(frame)} invoices",
            apply_dispatch_rules,
            frame,
            client,
            TablePersonRegister(conn).lookup_many,
        )

    base = ObjectStoragePath(f"file://{WORK / ('files-' + backend)}")
    started = time.perf_counter()
    cases = 0
    for agreement in agreements:
        summary = prepare_new_cases(engine, agreement, DAY, CUTOFF, base, now=datetime.now(UTC))
        cases += summary.get("cases", 0)
    prepare_s = time.perf_counter() - started
    print(
        f"  {'prepare_new_cases, all agreements':44} {prepare_s:8.2f} s  ({cases} cases, {cases / prepare_s:,.0f} cases/s)"
    )

    running = start_agency(WORK / f"sftp-{backend}", WORK / "keys", agreements)
    os.environ.update(running.connections)
    try:
        started = time.perf_counter()
        for agreement in agreements:
            deliver_pending(engine, agreement, base, now=datetime.now(UTC))
        print(
            f"  {'deliver_pending (SFTP / manual outbox)':44} {time.perf_counter() - started:8.2f} s"
        )
    finally:
        running.stop()
    if backend == "postgres":
        with engine.begin() as conn:  # the reference COPY needs the invoices marked again
            conn.execute(
                sa.text(
                    "UPDATE erp_invoice SET marked_for_collection = :y WHERE status = 'at_collection'"
                ),
                {"y": True},
            )
            conn.execute(sa.text("UPDATE ink_case SET is_open = :n"), {"n": False})
        copy_reference(url, cases)
    engine.dispose()


def main() -> None:
    """Parse arguments and run the benchmark on the chosen backends."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    args = parser.parse_args()
    for backend in ["postgres", "sqlite"] if args.backend == "both" else [args.backend]:
        run(backend, args.customers)


if __name__ == "__main__":
    main()
