"""Write and read back 300,000 Lowell new-case records beside their floors.

Prints rows of ``bench/table.py``'s one table (``make bench``): ``format engine write``,
``format engine read`` and ``format engine read in chunks``, each with its seconds, floor, ratio
(target 5x) and peak RSS. The write's floor joins the same lines and writes them; the read's
floor reads the file and splits it into lines. Each figure comes from its own child process, so
each peak RSS is that flow's own (imports included). Each flow and floor runs 3 times, each in
a fresh process: the least time is taken.

Run: ``.venv/bin/python bench/bench_format.py [rows] [layout] [--whole-only]``.
"""

from __future__ import annotations

import datetime as dt
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))
sys.path.insert(0, str(Path(__file__).resolve().parent))  # table

from table import HEAD, record  # noqa: E402

from inkasso.formats import load_layout  # noqa: E402

TARGET = 5  # the ratio to the floor (issue 12), write and read


def frame(rows: int) -> pd.DataFrame:
    """A new-cases frame of ``rows`` invoices with Nordic names and varied amounts."""
    rng = np.random.default_rng(7)
    ids = np.arange(1, rows + 1)
    first = np.array(["Kåre", "Åse", "Øystein", "Märta", "Jörgen", "Ærlig"])
    return pd.DataFrame(
        {
            "case_id": ids,
            "invoice_no": pd.Series(ids + 1_000_000).astype(str),
            "debtor_no": pd.Series(ids % 50_000).astype(str),
            "debtor_name": first[ids % len(first)] + " Ødegård",
            "debtor_type": np.where(ids % 7 == 0, "O", "P"),
            "national_id": "01017012345",
            "street": "Bjørnstjerne Bjørnsons gate " + pd.Series(ids % 200).astype(str),
            "postcode": "0150",
            "city": "Oslo",
            "country": "NO",
            "invoice_date": dt.date(2026, 9, 1),
            "due_date": pd.Timestamp("2026-09-15"),
            "original_amount": rng.integers(5_000, 10_000_000, rows),
            "remaining_amount": rng.integers(0, 5_000_000, rows),
            "currency": "NOK",
            "kid": pd.Series(ids).astype(str).str.zfill(12),
            "reminder_count": rng.integers(0, 4, rows),
        }
    )


HEADER = {
    "customer_no": "400123",
    "client_name": "Fjordkraft Åsane AS",
    "client_org_no": "912345678",
    "file_date": dt.date(2026, 11, 22),
    "currency": "NOK",
}


def child(flow: str, rows: int, layout_name: str, path: str) -> None:
    """One flow in this (fresh) process; prints seconds and peak RSS as JSON."""
    layout = load_layout(layout_name)
    if flow == "write":
        data_frame = frame(rows)
        start = time.perf_counter()
        Path(path).write_bytes(layout.write(HEADER, data_frame))
    elif flow == "write_floor":  # the same lines, already text: join and write
        lines = Path(path).read_bytes().split(b"\r\n")
        start = time.perf_counter()
        Path(path + ".floor").write_bytes(b"\r\n".join(lines))
    elif flow == "read":
        start = time.perf_counter()
        parsed = layout.read(Path(path).read_bytes(), "bench.txt")
        assert parsed.count("detail") == rows
    elif flow == "read_chunks":
        start = time.perf_counter()
        count = sum(c.count("detail") for c in layout.iter_chunks(path, chunk_rows=100_000))
        assert count == rows
    else:  # read_floor: read the bytes and split them into lines
        start = time.perf_counter()
        Path(path).read_bytes().split(b"\n")
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"seconds": seconds, "peak": peak}))


RUNS = 3
"""Each flow and floor runs this many times, each in a fresh process: its least time is taken
(a sub-second figure moves by half between single runs on a shared machine), and its largest
peak."""


def run(flow: str, rows: int, layout_name: str, path: Path) -> dict:
    """``child`` in a new process, ``RUNS`` times: the least seconds and the largest peak."""
    runs = []
    for _ in range(RUNS):
        out = subprocess.run(
            [sys.executable, __file__, "--child", flow, str(rows), layout_name, str(path)],
            check=True,
            capture_output=True,
            text=True,
        )
        runs.append(json.loads(out.stdout.strip().splitlines()[-1]))
    return {"seconds": min(r["seconds"] for r in runs), "peak": max(r["peak"] for r in runs)}


def main() -> None:
    """Time the write and the read beside their floors; print one table row each."""
    args = sys.argv[1:]
    if args[:1] == ["--child"]:
        child(args[1], int(args[2]), args[3], args[4])
        return
    whole_only = "--whole-only" in args  # (a tree from before the chunked reader has none)
    args = [a for a in args if a != "--whole-only"]
    rows = int(args[0]) if args else 300_000
    layout_name = args[1] if len(args) > 1 else "lowell.new_cases"
    folder = Path(tempfile.mkdtemp(prefix="bench-format-"))
    path = folder / "file.txt"
    # a check of the values first (in this process): what is written reads back the same
    small = frame(1000)
    back = load_layout(layout_name).read(load_layout(layout_name).write(HEADER, small), "b.txt")
    assert back.details()["remaining_amount"].tolist() == small["remaining_amount"].tolist()
    write = run("write", rows, layout_name, path)
    size = f"{rows:,} {layout_name} records, {path.stat().st_size / 1e6:.0f} MB"
    print(HEAD, flush=True)
    for flow, got, floor in (
        ("format engine write", write, run("write_floor", rows, layout_name, path)),
        ("format engine read", run("read", rows, layout_name, path), None),
        *(
            []
            if whole_only
            else [
                ("format engine read in chunks", run("read_chunks", rows, layout_name, path), None)
            ]
        ),
    ):
        floor = floor or run("read_floor", rows, layout_name, path)
        record(flow, size, "-", got["seconds"], floor["seconds"], target=TARGET,
               peak_mb=round(got["peak"] / 2**20))  # fmt: skip
    for leftover in folder.iterdir():
        leftover.unlink()
    folder.rmdir()


if __name__ == "__main__":
    main()
