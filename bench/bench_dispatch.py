"""Benchmark of the dispatch flow (``prepare_new_cases`` of every agreement) beside the floor.

    PYTHONPATH=plugins .venv/bin/python bench/bench_dispatch.py [--invoices 100000]
        [--backend postgres|sqlite|both] [--memory-only --invoices 1000000 10000000]

Builds a demo ERP (the deterministic generator for up to 100 000 invoices, then copies of its
customers and invoices in SQL up to the scale), marks every open overdue invoice for
collection, and runs the whole dispatch (read, rules, data checks, file, the one transaction per
agreement) in a child process per scale and backend, so each peak RSS is that run's own.

The floor, measured on the same rows in the same run:
- PostgreSQL: ``COPY (select_marked_invoices) TO STDOUT`` of the marked rows, plus ``COPY FROM
  STDIN`` of as many case rows as the dispatch opened;
- SQLite: reading the same rows (the same query, fetched) plus writing as many case rows with
  one ``executemany`` in one transaction.

Prints one table: flow, backend, scale, seconds, floor, ratio (target 5x PostgreSQL, 10x
SQLite), peak RSS. ``--memory-only`` (``make bench-large``) runs PostgreSQL at each scale given
and prints the peaks beside the target (the largest at most 1.2x the smallest, under 1 GB).
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "plugins"))
WORK = Path(os.environ.get("INKASSO_BENCH_WORK") or tempfile.mkdtemp(prefix="inkasso-bench-"))
os.environ["INKASSO_BENCH_WORK"] = str(WORK)
os.environ.setdefault("AIRFLOW_HOME", str(WORK / "airflow"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

import sqlalchemy as sa  # noqa: E402

DAY = date(2026, 11, 2)
CUTOFF = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
PG_ADMIN = os.environ.get(
    "INKASSO_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
BASE_INVOICES = 100_000  # the generator's share; the rest are SQL copies
INVOICES_PER_CUSTOMER = 5  # about what the generator makes
TARGET = {"postgres": 5, "sqlite": 10}
DB_NAME = {"postgres": "PostgreSQL", "sqlite": "SQLite"}  # as the one table names them
PG_DB = f"inkasso_bench_dispatch_{os.getpid()}"  # its own: other benchmarks may run beside it


def database_url(backend: str) -> str:
    """An empty database for the backend."""
    if backend == "sqlite":
        path = WORK / "erp.sqlite"
        for p in WORK.glob("erp.sqlite*"):
            p.unlink()
        return f"sqlite:///{path}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
        conn.execute(sa.text(f"CREATE DATABASE {PG_DB}"))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_DB}"


def drop_database(backend: str) -> None:
    """Free the disk a large run took."""
    if backend == "postgres":
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {PG_DB} WITH (FORCE)"))
        admin.dispose()
    else:
        for p in WORK.glob("erp.sqlite*"):
            p.unlink()


def _copies(conn, table, key: str, offset: int, factor: int, suffixed: str) -> None:
    """Insert ``factor - 1`` copies of ``table``'s rows with shifted ids and a suffixed number."""
    cols = [c.name for c in table.columns]
    exprs = []
    for c in cols:
        if c == key or (c == "customer_id" and key == "invoice_id"):
            step = offset if c == key else int(conn.info["customer_offset"])
            exprs.append(f"t.{c} + {step} * g.g")
        elif c == suffixed:
            exprs.append(f"t.{c} || '-' || CAST(g.g AS VARCHAR(6))")
        else:
            exprs.append(f"t.{c}")
    conn.execute(
        sa.text(
            f"INSERT INTO {table.name} ({', '.join(cols)}) SELECT {', '.join(exprs)}"
            f" FROM {table.name} t CROSS JOIN bench_copy g"
        )
    )


def build_erp(url: str, invoices: int) -> dict:
    """The demo ERP at about ``invoices`` invoices, every open overdue one marked."""
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso.db.schema import erp_customer, erp_invoice
    from inkasso_demo.erp.generator import create_demo_erp

    engine = engine_for_url(url)
    upgrade(engine)
    base = min(invoices, BASE_INVOICES)
    create_demo_erp(engine, seed=1, customers=max(base // INVOICES_PER_CUSTOMER, 50), start_day=DAY)
    with engine.begin() as conn:
        have = conn.execute(sa.text("SELECT COUNT(*) FROM erp_invoice")).scalar()
        factor = max(1, round(invoices / have))
        if factor > 1:
            conn.execute(sa.text("CREATE TEMP TABLE bench_copy (g INTEGER)"))
            conn.execute(
                sa.text("INSERT INTO bench_copy VALUES (:g)"),
                [{"g": g} for g in range(1, factor)],
            )
            top_c = conn.execute(sa.text("SELECT MAX(customer_id) FROM erp_customer")).scalar()
            top_i = conn.execute(sa.text("SELECT MAX(invoice_id) FROM erp_invoice")).scalar()
            conn.info["customer_offset"] = top_c
            _copies(conn, erp_customer, "customer_id", top_c, factor, "customer_no")
            _copies(conn, erp_invoice, "invoice_id", top_i, factor, "invoice_no")
            conn.execute(sa.text("DROP TABLE bench_copy"))
        conn.execute(
            sa.text(
                "UPDATE erp_invoice SET marked_for_collection = :y, marked_at = :at "
                "WHERE status = 'open' AND due_date < :day AND remaining_amount > 0"
            ),
            {"y": True, "at": datetime(2026, 11, 1, 12, tzinfo=UTC), "day": DAY},
        )
        total = conn.execute(sa.text("SELECT COUNT(*) FROM erp_invoice")).scalar()
        marked = conn.execute(
            sa.text("SELECT COUNT(*) FROM erp_invoice WHERE marked_for_collection = :y"),
            {"y": True},
        ).scalar()
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()
    return {"invoices": total, "marked": marked}


def _marked_query() -> str:
    from inkasso.config import SQL_DIR

    sql = (SQL_DIR / "erp" / "select_marked_invoices.sql").read_text()
    sql = "\n".join(line for line in sql.splitlines() if not line.strip().startswith("--"))
    return (
        sql.replace(":yes", "true")
        .replace(":no", "false")
        .replace(":client_id", "i.client_id")
        .replace(":cutoff", f"'{CUTOFF.isoformat()}'")
    )


def floor_read(url: str) -> float:
    """The floor's read: COPY out (PostgreSQL) or fetching the rows (SQLite) of every client."""
    engine = sa.create_engine(url)
    sql = _marked_query()
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        started = time.perf_counter()
        if engine.dialect.name == "postgresql":
            cur.copy_expert(f"COPY ({sql}) TO STDOUT", io.StringIO())
        else:
            cur.execute(sql.replace("true", "1").replace("false", "0"))
            while cur.fetchmany(50_000):
                pass
        seconds = time.perf_counter() - started
        raw.rollback()
    finally:
        raw.close()
        engine.dispose()
    return seconds


def floor_write(url: str, cases: int) -> float:
    """The floor's write: as many case rows by COPY (PostgreSQL) or one executemany (SQLite)."""
    engine = sa.create_engine(url)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "CREATE TEMP TABLE copy_cases (agreement_id text, invoice_id int, customer_id int,"
            " file_id int, status text, original_amount bigint, sent_amount bigint,"
            " currency text, business_date date, opened_at timestamp)"
        )
        started = time.perf_counter()
        if engine.dialect.name == "postgresql":
            line = (
                "lowell_no\t{i}\t{i}\t1\tsent\t10000\t10000\tNOK\t2026-11-02\t2026-11-02 05:00:00\n"
            )
            data = io.StringIO("".join(line.format(i=i) for i in range(cases)))
            cur.copy_expert("COPY copy_cases FROM STDIN", data)
        else:
            rows = [
                ("lowell_no", i, i, 1, "sent", 10000, 10000, "NOK", "2026-11-02", "2026-11-02")
                for i in range(cases)
            ]
            cur.executemany(f"INSERT INTO copy_cases VALUES ({', '.join('?' * 10)})", rows)
        raw.commit()
        seconds = time.perf_counter() - started
    finally:
        raw.close()
        engine.dispose()
    return seconds


def dispatch_child(url: str) -> None:
    """In the child process: every agreement's prepare; prints one JSON line (seconds, RSS)."""
    import logging

    from airflow.sdk import ObjectStoragePath

    from inkasso.agreements import load_agreements
    from inkasso.db.engine import engine_for_url
    from inkasso.dispatch import prepare_new_cases

    logging.getLogger("inkasso").setLevel(logging.WARNING)
    engine = engine_for_url(url)
    # an outbox of its own: files of an earlier run would be taken for this day's orphans
    base = ObjectStoragePath(f"file://{WORK / f'files-{os.getpid()}'}")
    started = time.perf_counter()
    cases = 0
    for agreement in load_agreements(engine):
        summary = prepare_new_cases(engine, agreement, DAY, CUTOFF, base, now=datetime.now(UTC))
        cases += summary.get("cases", 0)
    seconds = time.perf_counter() - started
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    shutil.rmtree(WORK / f"files-{os.getpid()}", ignore_errors=True)
    print(json.dumps({"seconds": seconds, "cases": cases, "rss_mb": rss_mb}))


def run_dispatch(url: str, profile: str | None = None) -> dict:
    """The dispatch in its own process (so its peak RSS is its own); returns its JSON line."""
    cmd = [sys.executable, __file__, "--child", url]
    if profile:
        cmd = [sys.executable, "-m", "cProfile", "-o", profile, __file__, "--child", url]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def measure(backend: str, invoices: int, with_floor: bool = True, profile=None) -> dict:
    """Build, floor (read), dispatch, floor (write); one table row as a dict."""
    url = database_url(backend)
    started = time.perf_counter()
    erp = build_erp(url, invoices)
    print(
        f"  [{backend}] built {erp['invoices']} invoices ({erp['marked']} marked)"
        f" in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    read_s = floor_read(url) if with_floor else 0.0
    result = run_dispatch(url, profile)
    write_s = floor_write(url, result["cases"]) if with_floor else 0.0
    drop_database(backend)
    return erp | result | {"backend": backend, "floor": read_s + write_s}


HEAD = (
    f"{'flow':10} {'backend':9} {'invoices':>9} {'cases':>8} {'seconds':>8} {'floor':>7}"
    f" {'ratio':>7} {'target':>7} {'peak RSS':>9}"
)


def row(r: dict) -> str:
    """One line of the table."""
    target = TARGET[r["backend"]]
    if r["floor"]:
        ratio = r["seconds"] / r["floor"]
        figures = f"{r['floor']:>7.2f} {ratio:>6.1f}x {f'<={target}x':>7}"
        verdict = "ok" if ratio <= target else "over"
    else:  # the memory run measures no floor: no ratio to judge
        figures, verdict = f"{'-':>7} {'-':>7} {'-':>7}", ""
    return (
        f"{'dispatch':10} {r['backend']:9} {r['invoices']:>9} {r['cases']:>8}"
        f" {r['seconds']:>8.2f} {figures} {r['rss_mb']:>6.0f} MB  {verdict}"
    ).rstrip()


def shared_record(flow: str, r: dict) -> None:
    """Add the row to ``make bench``'s one table (``bench/table.py``) where that exists."""
    try:
        from table import record
    except ImportError:
        return
    record(
        flow,
        f"{r['invoices']:,} invoices, {r['cases']:,} cases",
        DB_NAME[r["backend"]],
        r["seconds"],
        r["floor"] or None,
        target=TARGET[r["backend"]] if r["floor"] else None,
        peak_mb=int(r["rss_mb"]),
    )


def main() -> None:
    """Parse arguments, run the scales, print the table."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--invoices", type=int, nargs="+", default=[100_000])
    parser.add_argument("--backend", choices=["postgres", "sqlite", "both"], default="both")
    parser.add_argument("--memory-only", action="store_true", help="PostgreSQL peaks, no floor")
    parser.add_argument("--profile", help="write a cProfile of the dispatch child to this file")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        dispatch_child(args.child)
        return
    backends = ["postgres", "sqlite"] if args.backend == "both" else [args.backend]
    if args.memory_only:
        backends = ["postgres"]
    rows = []
    for invoices in args.invoices:
        for backend in backends:
            rows.append(measure(backend, invoices, not args.memory_only, args.profile))
            print(f"  {row(rows[-1])}", flush=True)  # as it comes; the table follows
            shared_record("dispatch", rows[-1])
    print("\n" + HEAD)
    for r in rows:
        print(row(r))
    if args.memory_only and len(rows) > 1:
        small, large = rows[0], rows[-1]
        growth = large["rss_mb"] / small["rss_mb"]
        ok = growth <= 1.2 and large["rss_mb"] < 1024
        print(
            f"peak RSS {large['invoices']} vs {small['invoices']} invoices: {growth:.2f}x"
            f" (target <= 1.20x and < 1024 MB): {'ok' if ok else 'over'}"
        )


if __name__ == "__main__":
    main()
