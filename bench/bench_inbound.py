"""Parse, validate and apply one closure file of 200,000 records (settlement on) and print the
timings beside PostgreSQL's own COPY of the same rows into a temporary table.

Run: ``.venv/bin/python bench/bench_inbound.py [rows] [sqlite|postgres|both]``.
PostgreSQL: ``INKASSO_BENCH_PG`` (default ``postgresql+psycopg2://postgres@127.0.0.1:5432/postgres``);
a database of its own is created and dropped.
"""

from __future__ import annotations

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

from inkasso.db.engine import engine_for_url  # noqa: E402
from inkasso.db.migrate import upgrade  # noqa: E402
from inkasso.db.schema import (  # noqa: E402
    erp_client,
    erp_customer,
    erp_invoice,
    erp_metadata,
    ink_agreement,
    ink_case,
    ink_file_log,
)
from inkasso.formats import load_layout, load_profile  # noqa: E402
from inkasso.inbound import InboundAgreement  # noqa: E402
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
AG = InboundAgreement("lowell_no", 1, "lowell", "40012", "c", "1684", "settlement")
SENT = dt.date(2026, 10, 1)
DAY = dt.date(2026, 11, 10)
NOW = dt.datetime(2026, 11, 10, 5, tzinfo=dt.UTC)


def seed(engine, rows: int) -> np.ndarray:
    """One client, agreement and customer; ``rows`` invoices at collection with registered cases."""
    rng = np.random.default_rng(7)
    amounts = rng.integers(5_000, 5_000_000, rows)
    erp_metadata.create_all(engine)
    upgrade(engine)
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
        ids = np.arange(1, rows + 1)
        conn.execute(sa.insert(erp_invoice), [
            {"invoice_id": int(i), "client_id": 1, "customer_id": 1, "invoice_no": str(i),
             "invoice_date": SENT, "due_date": SENT, "currency": "NOK",
             "original_amount": int(a), "remaining_amount": int(a), "kid": "1",
             "status": "at_collection"} for i, a in zip(ids, amounts, strict=True)])  # fmt: skip
        conn.execute(sa.insert(ink_case), [
            {"case_id": int(i), "agreement_id": AG.agreement_id, "invoice_id": int(i),
             "customer_id": 1, "file_id": 1, "status": "registered",
             "agency_case_ref": f"L{i}", "original_amount": int(a), "sent_amount": int(a),
             "currency": "NOK", "business_date": SENT, "opened_at": NOW}
            for i, a in zip(ids, amounts, strict=True)])  # fmt: skip
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
        "case_id": ids, "agency_case_ref": [f"L{i}" for i in ids], "closure_status": codes,
        "collected_amount": collected.astype("int64"),
        "remaining_amount": (amounts - collected).astype("int64"),
        "closure_date": DAY})  # fmt: skip


def timed(label: str, fn, timings: dict):
    start = time.perf_counter()
    out = fn()
    timings[label] = time.perf_counter() - start
    return out


def bench(url: str, rows: int) -> dict:
    engine = engine_for_url(url)
    timings: dict[str, float] = {}
    amounts = timed("seed (not counted)", lambda: seed(engine, rows), timings)
    profile = load_profile("lowell")
    spec = profile.files["closure"]
    name = spec.file_name(AG.customer_no_at_agency, dt.datetime(2026, 11, 10, 5, 50))
    frame = closure_frame(amounts)
    data = load_layout(spec.layout).write({"customer_no": "40012", "file_date": DAY}, frame)
    parsed = timed("parse", lambda: parse_file(profile, "closure", data, name, DAY), timings)
    assert not parsed.issues and not check_header(parsed, AG, DAY)
    timings["gx suite"] = 0.0
    suite = timed("gx suite", lambda: check_suite(parsed), timings)
    assert not suite, suite
    with engine.begin() as conn:

        def checks():
            cases = read_cases(conn, AG.agreement_id, parsed.details["case_id"])
            return check_details(parsed, cases, AG, profile, DAY)

        issues, merged = timed("domain checks", checks, timings)
        assert not issues, issues[:3]
        out = timed(
            "apply (cases, events, settlement)",
            lambda: apply_closure(conn, merged, AG, 1, name, NOW),
            timings,
        )
    assert sum(out["closures"].values()) == rows
    timings["total parse+validate+apply"] = sum(
        v for k, v in timings.items() if not k.startswith("seed")
    )
    if url.startswith("postgresql"):
        timings["PostgreSQL COPY of the same rows"] = copy_time(engine, frame)
    engine.dispose()
    return timings


def copy_time(engine, frame: pd.DataFrame) -> float:
    """psycopg2 copy_expert of the closure rows (as CSV) into a temporary table."""
    buf = io.StringIO()
    frame.to_csv(buf, index=False, header=False)
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(
            "CREATE TEMP TABLE closure_copy (case_id bigint, agency_case_ref text, "
            "closure_status text, collected_amount bigint, remaining_amount bigint, "
            "closure_date date)"
        )
        buf.seek(0)
        start = time.perf_counter()
        cur.copy_expert("COPY closure_copy FROM STDIN WITH (FORMAT csv)", buf)
        raw.commit()
        return time.perf_counter() - start
    finally:
        raw.close()


def main() -> None:
    import great_expectations  # noqa: F401  (imported once per worker; not part of the timings)

    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 200_000
    which = sys.argv[2] if len(sys.argv) > 2 else "both"
    results = {}
    if which in ("sqlite", "both"):
        with tempfile.TemporaryDirectory() as tmp:
            results["SQLite"] = bench(f"sqlite:///{tmp}/bench.sqlite", rows)
    if which in ("postgres", "both"):
        name = f"inkasso_bench_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            results["PostgreSQL"] = bench(PG_ADMIN.rsplit("/", 1)[0] + f"/{name}", rows)
        finally:
            with admin.connect() as conn:
                conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            admin.dispose()
    print(f"closure file of {rows:,} records (Lowell layout, settlement on)")
    for db, timings in results.items():
        print(f"\n{db}")
        for label, secs in timings.items():
            rate = f"{rows / secs:>12,.0f} rows/s" if secs and not label.startswith("seed") else ""
            print(f"  {label:<36} {secs:8.2f} s {rate}")


if __name__ == "__main__":
    main()
