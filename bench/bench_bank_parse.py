"""BgMax parse speed beside its floor, and the peak memory of reading big files in chunks.

Rows of ``bench/table.py``'s one table (``make bench``): flow, scale, seconds, floor, ratio,
target, peak RSS.
- ``BgMax parse``: ``read_bgmax`` of a file of N payments (default 300,000, about 25 MB), beside
  the floor of reading the same file and splitting it into lines; target 10x.
- ``BgMax parse in chunks``: ``iter_bgmax`` over the same file from its path, 100,000 lines a
  chunk; target 10x.
- ``BgMax parse in chunks`` and ``closure file read in chunks`` at ``--big`` MB (default 500): a
  BgMax file (target 10x) and a Lowell closure file (no target) of that size, written to a
  temporary folder and read in chunks.
The 300,000-payment flows and their floor run 3 times each, the least time taken (the big files
once). Every figure is measured in a child process, so each peak RSS (``ru_maxrss``) is that flow's own,
imports included (about 100 MB of pandas and numpy).

Run: ``.venv/bin/python bench/bench_bank_parse.py [payments] [--big MB] [--keep DIR]``.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve()
sys.path.insert(0, str(HERE.parents[1] / "plugins"))
sys.path.insert(0, str(HERE.parent))  # table

from table import HEAD, record  # noqa: E402

BGMAX_TARGET = 10  # the ratio to the floor (issue 12), whole and in chunks


# ------------------------------------------------------------------------------ files


def write_bgmax_file(path: Path, payments: int, names: bool = False, per_deposit: int = 0) -> int:
    """A BgMax file of ``payments`` payments (one deposit, or one per ``per_deposit``)."""
    import numpy as np
    import pandas as pd

    from inkasso.bank.bgmax import write_bgmax

    block = min(payments, per_deposit or payments, 50_000)
    ids = np.arange(block)
    frame = pd.DataFrame(
        {
            "payment_ref": [f"B{i:09d}" for i in ids],
            "payer_account": (1_000_000 + ids * 7 % 3_999_999).astype(str),
            "reference": (70_000_000_000 + ids).astype(str),
            "amount": (100_000 + ids % 9000).astype("int64"),
            "payment_date": dt.date(2026, 11, 1),
            "payee_account": "58410000010098",
            "currency": "SEK",
            "payer_name": "Kalles Plåt AB" if names else "",
            "line": 0,
        }
    )
    data = write_bgmax(frame, payee_bankgiro="9912346", written_at=dt.datetime(2026, 11, 2, 3))
    lines = data.split(b"\r\n")
    start, section = lines[0], b"\r\n".join(lines[1:-2]) + b"\r\n"  # [-2] is the end record
    sections = payments // block
    with open(path, "wb") as out:
        out.write(start + b"\r\n")
        for _ in range(sections):
            out.write(section)
        end = f"70{block * sections:08d}{0:08d}{0:08d}{sections:08d}"
        out.write(end.ljust(80).encode() + b"\r\n")
    return block * sections


def write_closure_file(path: Path, rows: int) -> int:
    """A Lowell closure file of ``rows`` details, written block by block."""
    import numpy as np
    import pandas as pd

    from inkasso.formats import load_layout

    layout = load_layout("lowell.closure")
    block = min(rows, 50_000)
    ids = np.arange(1, block + 1)
    frame = pd.DataFrame(
        {
            "case_id": ids,
            "agency_case_ref": pd.Series(ids + 5_000_000).astype(str),
            "closure_status": np.where(ids % 3 == 0, "DEL", "BET"),
            "collected_amount": (ids % 50_000).astype("int64"),
            "remaining_amount": (ids % 7).astype("int64"),
            "closure_date": dt.date(2026, 11, 2),
        }
    )
    header = {"customer_no": "400123", "file_date": dt.date(2026, 11, 2)}
    lines = layout.write(header, frame).split(b"\r\n")
    body = b"\r\n".join(lines[1:-2]) + b"\r\n"
    blocks = rows // block
    total = int(frame["collected_amount"].sum()) * blocks
    with open(path, "wb") as out:
        out.write(lines[0] + b"\r\n")
        for _ in range(blocks):
            out.write(body)
        out.write(f"99{block * blocks:09d}{total:015d}".ljust(120).encode() + b"\r\n")
    return block * blocks


# ------------------------------------------------------------------------------ children


def child(flow: str, path: str, chunk_rows: int) -> None:
    """Run one flow over ``path`` and print its figures as JSON (in a fresh process)."""
    import numpy  # noqa: F401  imports before the clock: the floor pays none either
    import pandas  # noqa: F401

    from inkasso.bank import bgmax
    from inkasso.formats import load_layout

    start = time.perf_counter()
    rows = amount = 0
    if flow == "floor":
        rows = len(Path(path).read_bytes().split(b"\n"))
    elif flow == "bgmax_whole":
        bank_file = bgmax.read_bgmax(Path(path).read_bytes(), "bench.txt")
        rows, amount = len(bank_file.payments), int(bank_file.payments["amount"].sum())
    elif flow == "bgmax_chunks":
        for chunk in bgmax.iter_bgmax(path, "bench.txt", chunk_rows=chunk_rows):
            rows += len(chunk.payments)
            amount += int(chunk.payments["amount"].sum())
    elif flow == "closure_chunks":
        for chunk in load_layout("lowell.closure").iter_chunks(path, chunk_rows=chunk_rows):
            rows += chunk.count("detail")
            if chunk.count("detail"):
                amount += int(chunk.frame("detail")["collected_amount"].sum())
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"rows": rows, "amount": amount, "seconds": seconds, "peak": peak}))


def run(flow: str, path: Path, chunk_rows: int = 100_000, runs: int = 3) -> dict:
    """One flow in a fresh child process, ``runs`` times: its figures with the least seconds
    (a sub-second figure moves by half between single runs on a shared machine) and the
    largest peak."""
    got = []
    for _ in range(runs):
        out = subprocess.run(
            [sys.executable, str(HERE), "--child", flow, str(path), str(chunk_rows)],
            check=True,
            capture_output=True,
            text=True,
            env=os.environ | {"PYTHONPATH": str(HERE.parents[1] / "plugins")},
        )
        got.append(json.loads(out.stdout.strip().splitlines()[-1]))
    best = min(got, key=lambda r: r["seconds"])
    return best | {"peak": max(r["peak"] for r in got)}


def row(flow: str, scale: str, got: dict, floor: dict, target: float | None) -> None:
    """One row of the table (``bench/table.py``), peak RSS the child's own."""
    record(flow, scale, "-", got["seconds"], floor["seconds"], target=target,
           peak_mb=round(got["peak"] / 2**20))  # fmt: skip


def main() -> None:
    """Write the files, run each flow in a child, print the table."""
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        child(args[1], args[2], int(args[3]))
        return
    big = int(args[args.index("--big") + 1]) if "--big" in args else 500
    keep = Path(args[args.index("--keep") + 1]) if "--keep" in args else None
    plain = [a for i, a in enumerate(args) if not a.startswith("--") and
             (i == 0 or args[i - 1] not in ("--big", "--keep"))]  # fmt: skip
    payments = int(plain[0]) if plain else 300_000
    folder = keep or Path(tempfile.mkdtemp(prefix="bench-bank-parse-"))
    folder.mkdir(parents=True, exist_ok=True)
    print(HEAD, flush=True)
    small = folder / "bgmax_small.txt"
    write_bgmax_file(small, payments)
    mb = small.stat().st_size / 1e6
    floor = run("floor", small)
    scale = f"{payments:,} payments, {mb:.1f} MB"
    row("BgMax parse", scale, run("bgmax_whole", small), floor, BGMAX_TARGET)
    if "--whole-only" not in args:  # (a tree from before the chunked readers has none)
        row("BgMax parse in chunks", scale, run("bgmax_chunks", small), floor, BGMAX_TARGET)
    if big:
        path = folder / "bgmax_big.txt"
        n = write_bgmax_file(path, big * 1_000_000 // 123, names=True, per_deposit=50_000)
        size = f"{n:,} payments, {path.stat().st_size / 1e6:.0f} MB"
        got, floor = run("bgmax_chunks", path, runs=1), run("floor", path, runs=1)
        row("BgMax parse in chunks", size, got, floor, BGMAX_TARGET)
        path.unlink()
        path = folder / "closure_big.txt"
        n = write_closure_file(path, big * 1_000_000 // 122)
        size = f"{n:,} closures, {path.stat().st_size / 1e6:.0f} MB"
        got, floor = run("closure_chunks", path, runs=1), run("floor", path, runs=1)
        row("closure file read in chunks", size, got, floor, None)
        path.unlink()
    if keep is None:
        small.unlink()
        folder.rmdir()


if __name__ == "__main__":
    main()
