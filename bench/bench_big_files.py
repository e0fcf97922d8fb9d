"""A big BgMax file imported end to end through ``import_bank_file``, in bounded memory.

The file (default 20 MB; ``--mb 500`` for the large run) is written to a temporary folder with
the generator of ``bench_bank_parse.py``: payments in deposits of 50,000, each matching one of
50,000 open invoices by its KID. Each case runs in a child process, so its peak RSS
(``ru_maxrss``) is its own, imports and the database set-up included:

- ``bank import big file``: ``import_bank_file`` given the file's path (hash, archive, read in
  chunks of 100,000 lines, stage, book once, payouts), on SQLite and PostgreSQL;
- its floor: reading the same file and splitting it into lines, in blocks.

One ``bench/table.py`` row per database: seconds, floor, ratio, peak RSS beside the file size.

``--inbound``: a big closure file (Lowell layout, settlement on, one closure per case, the
generator of ``bench_inbound.py``, written chunk by chunk) processed end to end through
``process_received``: hash, format, header and suite checked streaming, then checked against the
cases and applied chunk by chunk (25,000 lines) in one transaction, on SQLite and PostgreSQL.
The cases are seeded by one child; another processes the file, so its peak RSS is the
processing's own. Nothing per record is kept in Python: a case listed twice is found in SQL
over the case ids staged chunk by chunk. Peak RSS measured on 2 shared cores (load 7):
SQLite 224 MB at 5 MB, 288 MB at 50 MB, 320 MB at 500 MB (4.09 M closures);
PostgreSQL 234 MB at 5 MB, 296 MB at 50 MB, 325 MB at 500 MB. Before (100,000-line
chunks, the case ids kept in numpy arrays), SQLite: 243, 445 and 690 MB.

Run: ``.venv/bin/python bench/bench_big_files.py [--mb MB [MB ...]]
[--db sqlite|postgres|both] [--pg ADMIN_URL] [--inbound]``, e.g. ``--mb 5 50 500 --inbound``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "plugins"))
sys.path.insert(0, str(HERE.parent))

DAY = dt.date(2026, 11, 2)
INVOICES = 50_000  # the generator's KIDs repeat every 50,000 payments
BYTES_PER_PAYMENT = 166  # a payment with a payer name, with its share of deposit records
WRITE_ROWS = 200_000  # closure records generated and written at a time


def child_floor(path: str) -> dict:
    """Read the file and split it into lines, 16 MB at a time: the floor of any reader."""
    started, lines = time.perf_counter(), 0
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            lines += len(block.split(b"\n")) - 1
    return {"seconds": time.perf_counter() - started, "lines": lines}


def child_import(path: str, url: str) -> dict:
    """Set up the ERP at ``url``, then import the file from its path; time and booked counts."""
    from airflow.sdk import ObjectStoragePath
    from bench_bank_import import invoices, setup

    from inkasso.bank.importer import import_bank_file

    engine = setup(url, invoices(INVOICES))
    base = ObjectStoragePath("file://" + tempfile.mkdtemp(prefix="bench-big-files-"))
    started = time.perf_counter()
    result = import_bank_file(engine, 1, "BGMAX.big.txt", Path(path), business_date=DAY,
                              base=base, now=dt.datetime.now(dt.UTC))  # fmt: skip
    seconds = time.perf_counter() - started
    engine.dispose()
    assert result["status"] == "applied", result
    return {"seconds": seconds, "payments": result["payments"], "amount": result["amount"]}


def write_closure_file(path: Path, mb: int) -> int:
    """A Lowell closure file of about ``mb`` MB, one closure per case 1..n, written chunk by
    chunk (bench_inbound's generator and amounts); returns n."""
    import numpy as np
    from bench_inbound import AG, DAY, closure_frame

    from inkasso.formats import load_layout, load_profile
    from inkasso.formats.writer import StreamWriter

    layout = load_layout(load_profile("lowell").files["closure"].layout)
    header = {"customer_no": AG.customer_no_at_agency, "file_date": DAY}
    with open(path, "wb") as out:
        with open(os.devnull, "wb") as nowhere:  # the size of 1,000 records, to size the file
            sample = StreamWriter(layout, nowhere, header)
            sample.append(closure_frame(np.full(1000, 1_000_000)))
        rows = max(mb * 1_000_000 * 1000 // sample.size, 1)
        amounts = np.random.default_rng(7).integers(5_000, 5_000_000, rows)  # as seed() draws
        writer = StreamWriter(layout, out, header)
        for start in range(0, rows, WRITE_ROWS):
            frame = closure_frame(amounts[start : start + WRITE_ROWS])
            frame["case_id"] += start  # the generator numbers from 1: these are the next cases
            frame["agency_case_ref"] = "L" + frame["case_id"].astype(str)
            writer.append(frame)
        writer.finish()
    return rows


def child_seed(url: str, rows: str) -> dict:
    """The ERP with ``rows`` registered cases (bench_inbound's seed)."""
    from bench_inbound import seed

    from inkasso.db.engine import engine_for_url

    started = time.perf_counter()
    seed(engine_for_url(url), int(rows))
    return {"seconds": time.perf_counter() - started}


def child_inbound(path: str, url: str) -> dict:
    """Log the closure file as received and run ``process_received``; time and counts."""
    import hashlib

    import sqlalchemy as sa
    from airflow.sdk import ObjectStoragePath
    from bench_inbound import AG, DAY, NOW

    from inkasso.db.engine import engine_for_url
    from inkasso.db.schema import ink_file_log
    from inkasso.inbound import process_received

    engine = engine_for_url(url)
    sha = hashlib.sha256()
    with open(path, "rb") as handle:
        while block := handle.read(1 << 24):
            sha.update(block)
    with engine.begin() as conn:  # the seed's file has an explicit id: no sequence moved on
        file_id = conn.execute(sa.select(sa.func.max(ink_file_log.c.file_id))).scalar() + 1
        conn.execute(sa.insert(ink_file_log).values(
            file_id=file_id, client_id=1, agreement_id=AG.agreement_id, direction="in", kind="closure",
            file_name=Path(path).name, business_date=DAY, status="received", path=path,
            sha256=sha.hexdigest(), size_bytes=os.path.getsize(path), record_count=0,
            amount_total=0, created_at=NOW))  # fmt: skip
    base = ObjectStoragePath("file://" + tempfile.mkdtemp(prefix="bench-big-files-"))
    started = time.perf_counter()
    out = process_received(engine, AG, base, DAY, now=dt.datetime.now(dt.UTC))
    seconds = time.perf_counter() - started
    engine.dispose()
    assert not out["quarantined"] and len(out["applied"]) == 1, out
    return {"seconds": seconds, "applied": out["applied"][0]["closures"]}


def run_child(*args: str) -> dict:
    """One case in a child process; its JSON figures with its peak RSS in MB."""
    out = subprocess.run(
        [sys.executable, str(HERE), "--child", *args],
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(HERE.parents[1] / "plugins")},
    )
    if out.returncode:
        sys.exit(f"child {args[0]} failed:\n{out.stderr[-4000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(args: list[str]) -> None:
    """The child's side: run one case and print its figures as JSON."""
    import numpy  # noqa: F401  imported before any clock starts, as in every case
    import pandas  # noqa: F401

    cases = {"floor": child_floor, "import": child_import, "seed": child_seed,
             "inbound": child_inbound}  # fmt: skip
    got = cases[args[0]](*args[1:])
    got["peak_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(got))


def postgres_database(admin_url: str):
    """A fresh PostgreSQL database: (its URL, a function that drops it)."""
    import sqlalchemy as sa

    name = f"bench_big_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return admin_url.rsplit("/", 1)[0] + f"/{name}", drop


def main() -> None:
    """Write the file, run the floor and each database's import in a child, print the rows."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mb", type=int, nargs="+", default=[20], help="file sizes, one run each")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--inbound", action="store_true", help="the closure-file case instead")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    if args.inbound:
        for mb in args.mb:
            inbound(mb, args.db, args.pg)
        return
    for mb in args.mb:
        bank(mb, args.db, args.pg)


def bank(mb: int, db: str, pg: str) -> None:
    """Write the BgMax file, run the floor and each database's import in a child; the rows."""
    from bench_bank_parse import write_bgmax_file
    from table import record

    with tempfile.TemporaryDirectory(prefix="bench-big-files-") as folder:
        path = Path(folder) / "BGMAX.big.txt"
        wanted = max(mb * 1_000_000 // BYTES_PER_PAYMENT // INVOICES, 1) * INVOICES
        n = write_bgmax_file(path, wanted, names=True, per_deposit=INVOICES)
        scale = f"{n:,} payments, {path.stat().st_size / 1e6:.0f} MB"
        floor = run_child("floor", str(path))["seconds"]
        cases = []
        if db in ("sqlite", "both"):
            cases.append(("SQLite", f"sqlite:///{folder}/erp.sqlite", None))
        if db in ("postgres", "both"):
            cases.append(("PostgreSQL", *postgres_database(pg)))
        for db, url, drop in cases:
            try:
                got = run_child("import", str(path), url)
            finally:
                if drop:
                    drop()
            assert got["payments"] == n, got
            record("bank import big file (path, chunks)", scale, db, got["seconds"], floor,
                   peak_mb=got["peak_mb"])  # fmt: skip


def inbound(mb: int, db: str, pg: str) -> None:
    """Write the closure file, then per database seed its cases and process it in a child;
    print one row per database."""
    from table import record

    with tempfile.TemporaryDirectory(prefix="bench-big-files-") as folder:
        path = Path(folder) / "NO40012_CLOSURE_20261110_0540.txt"
        n = write_closure_file(path, mb)
        floor = run_child("floor", str(path))["seconds"]
        scale = f"{n:,} closures, {path.stat().st_size / 1e6:.0f} MB"
        cases = []
        if db in ("sqlite", "both"):
            cases.append(("SQLite", f"sqlite:///{folder}/erp.sqlite", None))
        if db in ("postgres", "both"):
            cases.append(("PostgreSQL", *postgres_database(pg)))
        for name, url, drop in cases:
            try:
                run_child("seed", url, str(n))
                got = run_child("inbound", str(path), url)
            finally:
                if drop:
                    drop()
            assert sum(got["applied"].values()) == n, got
            record("inbound closure big file (process_received, chunks)", scale, name,
                   got["seconds"], floor, peak_mb=got["peak_mb"])  # fmt: skip


if __name__ == "__main__":
    main()
