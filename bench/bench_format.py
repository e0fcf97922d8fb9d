"""Write and read back 300,000 Lowell new-case records and print rows per second.

Run: ``.venv/bin/python bench/bench_format.py [rows] [layout]``.
"""

from __future__ import annotations

import datetime as dt
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "plugins"))

from inkasso.formats import load_layout  # noqa: E402


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


def main() -> None:
    """Time the write and the read and check the read-back values."""
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 300_000
    layout = load_layout(sys.argv[2] if len(sys.argv) > 2 else "lowell.new_cases")
    header = {
        "customer_no": "400123",
        "client_name": "Fjordkraft Åsane AS",
        "client_org_no": "912345678",
        "file_date": dt.date(2026, 11, 22),
        "currency": "NOK",
    }
    data_frame = frame(rows)
    start = time.perf_counter()
    data = layout.write(header, data_frame)
    wrote = time.perf_counter() - start
    start = time.perf_counter()
    parsed = layout.read(data, "bench.txt")
    read = time.perf_counter() - start
    back = parsed.details()
    assert back["remaining_amount"].tolist() == data_frame["remaining_amount"].tolist()
    assert parsed.trailer["amount_total"] == int(data_frame["remaining_amount"].sum())
    print(f"{layout.name}: {rows} rows, {len(data) / 1e6:.1f} MB")
    print(f"write {wrote:6.2f} s  {rows / wrote:10,.0f} rows/s")
    print(f"read  {read:6.2f} s  {rows / read:10,.0f} rows/s")


if __name__ == "__main__":
    main()
