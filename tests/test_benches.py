"""Every benchmark under ``bench/`` still runs (at a tiny scale) and prints its table row.

The figures are not judged here (speed targets live in the benchmarks, README "Benchmarks"):
this only keeps a benchmark from breaking unseen when the code it drives changes (a new column
in the payments frame once made ``bench_bank_import.py`` fail, noticed only by ``make bench``).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import PROJECT_ROOT

# script and arguments at a tiny scale -> a start of the row it must print (per database)
BENCHES = {
    "bank_import": (["bench_bank_import.py", "--payments", "2000"], "| bank import (BgMax) |", 2),
    "inbound": (["bench_inbound.py", "--rows", "2000"], "| inbound closures |", 2),
    "dispatch": (["bench_dispatch.py", "--invoices", "3000"], "| dispatch |", 2),
    "corrections": (["bench_corrections.py", "2000"], "| corrections |", 2),
    "bank_parse": (["bench_bank_parse.py", "2000", "--big", "1"], "| bgmax parse", 1),
    "format": (["bench_format.py", "2000"], "| format write", 1),
    "big_files": (["bench_big_files.py", "--mb", "1"], "| bank import big file", 2),
}


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_the_benchmark_runs_and_prints_its_rows(name, tmp_path):
    args, row, count = BENCHES[name]
    env = os.environ | {
        "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
        "BENCH_TABLE": str(tmp_path / "table.jsonl"),
    }
    out = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / args[0]), *args[1:]],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    rows = [line for line in out.stdout.splitlines() if line.startswith(row)]
    assert len(rows) >= count, out.stdout[-3000:]
