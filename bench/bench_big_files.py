"""A big BgMax file imported end to end through ``import_bank_file``, in bounded memory.

The file (default 20 MB; ``--mb 500`` for the large run) is written to a temporary folder with
the generator of ``bench_bank_parse.py``: payments in deposits of 50,000, each matching one of
50,000 open invoices by its KID. Each case runs in a child process, so its peak RSS
(``ru_maxrss``) is its own, imports and the database set-up included:

- ``bank import big file``: ``import_bank_file`` given the file's path (hash, archive, read in
  chunks of 100,000 lines, stage, book once, payouts), on SQLite and PostgreSQL;
- its floor: reading the same file and splitting it into lines, in blocks.

One ``bench/table.py`` row per database: seconds, floor, ratio, peak RSS beside the file size.

Run: ``.venv/bin/python bench/bench_big_files.py [--mb MB] [--db sqlite|postgres|both]
[--pg ADMIN_URL]``.
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


def run_child(*args: str) -> dict:
    """One case in a child process; its JSON figures with its peak RSS in MB."""
    out = subprocess.run(
        [sys.executable, str(HERE), "--child", *args],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ | {"PYTHONPATH": str(HERE.parents[1] / "plugins")},
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def child(args: list[str]) -> None:
    """The child's side: run one case and print its figures as JSON."""
    import numpy  # noqa: F401  imported before any clock starts, as in every case
    import pandas  # noqa: F401

    got = child_floor(args[1]) if args[0] == "floor" else child_import(args[1], args[2])
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
    parser.add_argument("--mb", type=int, default=20)
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--pg", default="postgresql+psycopg2://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--child", nargs="+")
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    from bench_bank_parse import write_bgmax_file
    from table import record

    with tempfile.TemporaryDirectory(prefix="bench-big-files-") as folder:
        path = Path(folder) / "BGMAX.big.txt"
        wanted = max(args.mb * 1_000_000 // BYTES_PER_PAYMENT // INVOICES, 1) * INVOICES
        n = write_bgmax_file(path, wanted, names=True, per_deposit=INVOICES)
        scale = f"{n:,} payments, {path.stat().st_size / 1e6:.0f} MB"
        floor = run_child("floor", str(path))["seconds"]
        cases = []
        if args.db in ("sqlite", "both"):
            cases.append(("SQLite", f"sqlite:///{folder}/erp.sqlite", None))
        if args.db in ("postgres", "both"):
            cases.append(("PostgreSQL", *postgres_database(args.pg)))
        for db, url, drop in cases:
            try:
                got = run_child("import", str(path), url)
            finally:
                if drop:
                    drop()
            assert got["payments"] == n, got
            record("bank import big file (path, chunks)", scale, db, got["seconds"], floor,
                   peak_mb=got["peak_mb"])  # fmt: skip


if __name__ == "__main__":
    main()
