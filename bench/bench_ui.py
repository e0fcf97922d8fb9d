"""The Inkasso view at volume: 1M cases and 10M case events on PostgreSQL, list and case pages
timed (queries + template) beside the 300 ms target.

The data is made by PostgreSQL itself (``INSERT ... SELECT generate_series``) into a database
``inkasso_bench_ui`` that is kept: a later run reuses it when the counts match (``--fresh``
fills it again, ``--drop`` removes it at the end). Filling takes minutes on 2 shared cores.

Each page's median goes to ``bench/table.py``'s one table (``make bench``) as a row of its own
(``Inkasso view: <page>``, PostgreSQL, seconds, target 0.3 s); no floor.

Run: ``.venv/bin/python bench/bench_ui.py [--cases 1000000] [--events-per-case 10]
[--database inkasso_bench_ui] [--fresh] [--drop]`` (PostgreSQL on 127.0.0.1:5432, or
``INKASSO_BENCH_PG`` as an admin URL). A smaller run should name a database of its own, so the
kept 1M one is not filled again.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from datetime import date
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # table

from table import record  # noqa: E402

from inkasso.db.migrate import upgrade  # noqa: E402
from inkasso.db.schema import erp_metadata  # noqa: E402
from inkasso.ui import queries  # noqa: E402

PG_ADMIN = os.environ.get(
    "INKASSO_BENCH_PG", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
DB_NAME = "inkasso_bench_ui"  # the default; --database names another
TARGET_MS = 300
TODAY = date(2026, 11, 30)
AGREEMENTS = 8
DAYS = 365
CUSTOMERS = 200_000

FILL = [
    # clients and one agreement each
    """INSERT INTO erp_client (client_id, name, org_no, country, currency, min_collection_amount,
         default_bank_account, register_lookup, report_recipients)
       SELECT g, 'Client ' || g, '9' || lpad(g::text, 8, '0'), CASE WHEN g <= 3 THEN 'NO' ELSE 'SE' END,
         CASE WHEN g <= 3 THEN 'NOK' ELSE 'SEK' END, 5000, '1234567890' || g, true, ''
       FROM generate_series(1, :agreements) g""",
    """INSERT INTO ink_agreement (agreement_id, client_id, agency, country, customer_no_at_agency,
         agency_bank_account, mode, reminder_service, interim_account, booking_mode, active)
       SELECT 'agr_' || g, g, (ARRAY['lowell','intrum','credicare','creno','kredithanterarna',
         'svea','preventia','lowell'])[g], CASE WHEN g <= 3 THEN 'NO' ELSE 'SE' END, '4001' || g,
         '9999000' || g, 'sftp', false, '1684', 'bank', true
       FROM generate_series(1, :agreements) g""",
    """INSERT INTO erp_customer (customer_id, client_id, customer_no, name, is_organisation,
         national_id, country, postal_street, postal_postcode, postal_city, postal_source)
       SELECT g, 1 + g % :agreements, 'C' || g, 'Customer ' || g, g % 10 = 0,
         lpad((g * 7919 % 100000000000)::text, 11, '0'), 'NO', 'Gate ' || g, '0150', 'Oslo', 'manual'
       FROM generate_series(1, :customers) g""",
    # one invoice per case
    """INSERT INTO erp_invoice (invoice_id, client_id, customer_id, invoice_no, invoice_date,
         due_date, currency, original_amount, remaining_amount, kid, reminder_count, status,
         disputed, marked_for_collection, addr_street, addr_postcode, addr_city, addr_changed_manually)
       SELECT g, 1 + (g % :customers + 1) % :agreements, g % :customers + 1, 'F' || g,
         DATE '2025-10-01' + (g % :days), DATE '2025-10-15' + (g % :days), 'NOK',
         10000 + (g * 37 % 500000), 10000 + (g * 37 % 500000), lpad(g::text, 10, '0'), 2,
         'at_collection', false, false, 'Gate ' || g, '0150', 'Oslo', false
       FROM generate_series(1, :cases) g""",
    # a new-case file per agreement and day, and one receipt file
    """INSERT INTO ink_file_log (file_id, client_id, agreement_id, direction, kind, file_name,
         business_date, status, path, sha256, size_bytes, record_count, amount_total, run_id,
         created_at, delivered_at)
       SELECT g, 1 + (g / 2) % :agreements, 'agr_' || (1 + (g / 2) % :agreements), CASE WHEN g % 2 = 0 THEN 'out' ELSE 'in' END,
         CASE WHEN g % 2 = 0 THEN 'new_cases' ELSE 'receipt' END, 'F' || g || '.txt',
         DATE '2025-11-30' + (g / (2 * :agreements)), CASE WHEN g % 2 = 0 THEN 'delivered' ELSE 'applied' END,
         '/nowhere/F' || g, repeat('0', 64), 1000, 100, 1000000, 'scheduled__' || g, now(), now()
       FROM generate_series(1, 2 * :agreements * :days) g""",
    # the cases: spread over the year and the agreements, some still waiting for a receipt
    """INSERT INTO ink_case (case_id, agreement_id, invoice_id, customer_id, file_id, status, is_open,
         agency_case_ref, original_amount, sent_amount, currency, business_date, opened_at,
         collected_amount)
       SELECT g, 'agr_' || (1 + (g % :customers + 1) % :agreements), g, g % :customers + 1,
         -- the new-case file of the case's agreement and day (the key on both refuses others)
         2 * COALESCE(NULLIF((g % :days) * :agreements + (g % :customers + 1) % :agreements, 0),
                      :days * :agreements),
         (ARRAY['sent','registered','registered','paid','partly_paid','closed','recalled','registered'])[1 + (g / 3) % 8],
         (g / 3) % 8 NOT IN (3, 5, 6), CASE WHEN (g / 3) % 8 = 0 THEN NULL ELSE 'AG' || g END,
         10000 + (g * 37 % 500000), 10000 + (g * 37 % 500000), 'NOK',
         DATE '2025-11-30' + (g % :days), now(), CASE WHEN (g / 3) % 8 = 3 THEN 10000 + (g * 37 % 500000) ELSE 0 END
       FROM generate_series(1, :cases) g""",
    # events: ten per case
    """INSERT INTO ink_case_event (case_id, at, kind, detail, file_id)
       SELECT c, now() - make_interval(days => e), (ARRAY['opened','receipt','correction','closure',
         'note'])[1 + e % 5], 'event ' || e || ' of case ' || c, 1 + (c + e) % (2 * :agreements * :days)
       FROM generate_series(1, :cases) c, generate_series(1, :events_per_case) e""",
    """INSERT INTO ink_correction (case_id, agreement_id, source, source_id, correction_type, amount,
         correction_date, file_id, created_at)
       SELECT g, 'agr_' || (1 + (g % :customers + 1) % :agreements), 'payment', g,
         (ARRAY['DP','CN','RC'])[1 + g % 3], 1000, DATE '2025-12-01' + (g % 300),
         -- a file of the case's agreement (the key on both refuses others): the case's own
         2 * COALESCE(NULLIF((g % :days) * :agreements + (g % :customers + 1) % :agreements, 0),
                      :days * :agreements), now()
       FROM generate_series(1, :cases, 3) g""",
]


def database_url(fresh: bool, name: str = DB_NAME) -> tuple[str, bool]:
    """The bench database's URL, and whether it must be filled."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        exists = conn.execute(
            sa.text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).first()
        if exists and fresh:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            exists = None
        if not exists:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", not exists


def drop_database(name: str) -> None:
    """Drop the bench database (``--drop``)."""
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def fill(engine, cases: int, events_per_case: int) -> None:
    """Create the tables (migrations, with the view's indexes) and fill them set-based."""
    erp_metadata.create_all(engine)
    upgrade(engine)
    params = {
        "agreements": AGREEMENTS,
        "customers": min(CUSTOMERS, cases),
        "days": DAYS,
        "cases": cases,
        "events_per_case": events_per_case,
    }
    with engine.begin() as conn:
        # generated rows are consistent by construction: skip the foreign-key triggers while
        # filling (superuser; the trust-auth 'postgres' user of the development machines)
        conn.execute(sa.text("SET LOCAL session_replication_role = replica"))
        for sql in FILL:
            started = time.perf_counter()
            conn.execute(sa.text(sql), params)
            table = sql.split("INTO", 1)[1].split()[0]
            print(f"  filled {table:<16} in {time.perf_counter() - started:6.1f} s", flush=True)
        for table in ("ink_case", "ink_case_event", "ink_file_log", "ink_correction"):
            key = {"ink_case": "case_id", "ink_case_event": "event_id"}.get(table)
            key = key or {"ink_file_log": "file_id", "ink_correction": "correction_id"}[table]
            conn.execute(
                sa.text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', '{key}'), "
                    f"(SELECT max({key}) FROM {table}))"
                )
            )
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))


def ensure_indexes(engine) -> None:
    """Create any index the schema declares that a kept database lacks (then ANALYZE)."""
    from inkasso.db.schema import pipeline_metadata

    created = []
    with engine.begin() as conn:
        for table in [*erp_metadata.sorted_tables, *pipeline_metadata.sorted_tables]:
            for index in table.indexes:
                if not conn.execute(
                    sa.text("SELECT 1 FROM pg_indexes WHERE indexname = :n"), {"n": index.name}
                ).first():
                    index.create(conn)
                    created.append(index.name)
    if created:
        print(f"  created {', '.join(created)}")
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(sa.text("ANALYZE"))


def counts(engine) -> tuple[int, int]:
    """Cases and events in the bench database (0, 0 when it has no tables yet)."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table("ink_case"):
            return 0, 0
        return (
            conn.execute(sa.text("SELECT count(*) FROM ink_case")).scalar_one(),
            conn.execute(sa.text("SELECT count(*) FROM ink_case_event")).scalar_one(),
        )


def timed(fn, repeats: int = 7) -> tuple[float, float]:
    """Median and worst of ``repeats`` calls, in milliseconds (one warm-up call first)."""
    fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples), max(samples)


def main(argv: list[str] | None = None) -> int:
    """Fill (or reuse) the bench database, time the pages, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--events-per-case", type=int, default=10)
    parser.add_argument("--fresh", action="store_true", help="fill the database again")
    parser.add_argument("--drop", action="store_true", help="drop the database at the end")
    parser.add_argument("--database", default=DB_NAME, help=f"its name (default {DB_NAME})")
    args = parser.parse_args(argv)
    try:
        return time_pages(args)
    finally:
        if args.drop:
            drop_database(args.database)


def time_pages(args) -> int:
    """Fill (or reuse) the bench database, time the pages; 1 when a page misses the target."""
    from inkasso.ui.app import _templates

    url, empty = database_url(args.fresh, args.database)
    engine = sa.create_engine(url)
    want = (args.cases, args.cases * args.events_per_case)
    if empty or counts(engine) != want:
        if not empty:
            engine.dispose()
            url, _ = database_url(True, args.database)
            engine = sa.create_engine(url)
        print(f"filling {want[0]:,} cases and {want[1]:,} events (once; kept for later runs)")
        started = time.perf_counter()
        fill(engine, args.cases, args.events_per_case)
        print(f"  filled in {time.perf_counter() - started:.0f} s")
    ensure_indexes(engine)
    n_cases, n_events = counts(engine)
    print(f"PostgreSQL, {n_cases:,} cases, {n_events:,} events; target {TARGET_MS} ms per page")

    templates = _templates()
    with engine.connect() as conn:
        options = queries.filter_options(conn)
    ctx = {
        "prefix": "/inkasso",
        "airflow": "",
        "user": "bench",
        "q": {},
        "page_url": lambda p: f"?page={p}",
        "path": "/inkasso/cases",
        "options": options,
        "agreement_choices": [(a["agreement_id"],) * 2 for a in options.agreements],
        "client_choices": [(c["client_id"], c["name"]) for c in options.clients],
        "agency_choices": [(a, a) for a in options.agencies],
    }
    mid = n_cases // 2

    def cases_page(f: queries.CaseFilter, page: int = 1):
        def run():
            with engine.connect() as conn:
                result = queries.list_cases(conn, f, today=TODAY, page=page)
            templates.get_template("cases.html.j2").render(
                **ctx, tab="cases", page=result, statuses=queries.CASE_STATUSES, stale_days=5
            )

        return run

    def case_page(case_id: int):
        def run():
            with engine.connect() as conn:
                case = queries.case_detail(conn, case_id, today=TODAY)
            templates.get_template("case.html.j2").render(**ctx, tab="cases", case=case)

        return run

    def files_page():
        with engine.connect() as conn:
            result = queries.list_files(conn, queries.FileFilter(), page=1)
        templates.get_template("files.html.j2").render(
            **ctx, tab="files", page=result, statuses=queries.FILE_STATUSES
        )

    checks = [
        ("cases, no filter, page 1", cases_page(queries.CaseFilter())),
        ("cases, no filter, page 100", cases_page(queries.CaseFilter(), 100)),
        ("cases, status", cases_page(queries.CaseFilter(status="partly_paid"))),
        ("cases, status, page 100", cases_page(queries.CaseFilter(status="registered"), 100)),
        ("cases, status, none", cases_page(queries.CaseFilter(status="uncollectible"))),
        (
            "cases, agreement + status",
            cases_page(queries.CaseFilter(agreement_id="agr_3", status="sent")),
        ),
        (
            "cases, agreement + status, none",
            cases_page(queries.CaseFilter(agreement_id="agr_3", status="no_such_status")),
        ),
        (
            "cases, client + status",
            cases_page(queries.CaseFilter(client_id=5, status="partly_paid")),
        ),
        (
            "cases, client + date range",
            cases_page(
                queries.CaseFilter(
                    client_id=2, date_from=date(2026, 3, 1), date_to=date(2026, 3, 31)
                )
            ),
        ),
        ("cases, receipt late", cases_page(queries.CaseFilter(late_receipt=True))),
        ("cases, invoice no", cases_page(queries.CaseFilter(invoice_no=f"F{mid}"))),
        ("cases, customer no", cases_page(queries.CaseFilter(customer_no="C4711"))),
        ("cases, agency ref", cases_page(queries.CaseFilter(agency_ref=f"AG{mid + 1}"))),
        (f"case page ({args.events_per_case} events)", case_page(mid)),
        ("case page (another)", case_page(7)),
        ("files, page 1", files_page),
    ]
    print(f"{'page':<32} {'median ms':>10} {'worst ms':>9}  target {TARGET_MS} ms")
    scale = f"{n_cases:,} cases, {n_events:,} events; median of 7"
    worst_all = 0.0
    for name, fn in checks:
        median, worst = timed(fn)
        worst_all = max(worst_all, median)
        flag = "ok" if median < TARGET_MS else "SLOW"
        print(f"{name:<32} {median:10.1f} {worst:9.1f}  {flag}", flush=True)
        record(f"Inkasso view: {name}", scale, "PostgreSQL", median / 1000, None,
               target_seconds=TARGET_MS / 1000)  # fmt: skip
    engine.dispose()
    return 0 if worst_all < TARGET_MS else 1


if __name__ == "__main__":
    sys.exit(main())
