"""Every benchmark under ``bench/`` still runs (at a tiny scale) and puts its rows in the one table.

The figures are not judged here (speed targets live in the benchmarks, README "Benchmarks"):
this keeps a benchmark from breaking unseen when the code it drives changes (a new column in the
payments frame once made ``bench_bank_import.py`` fail, noticed only by ``make bench``), and
keeps ``make bench``'s one table whole: each benchmark appends its rows to ``$BENCH_TABLE``
with its flow names, database and target, and ``bench/table.py FILE`` prints them all.
``bench_demo_day.py`` is left out: it plays two whole demo days (a minute or more).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest

from conftest import PROJECT_ROOT

PG, LITE = "PostgreSQL", "SQLite"
DB_TARGETS = ((PG, 5), (LITE, 10))  # issue 12: the flows that write a database
INBOUND = "inbound closures (parse, checks, apply)"
BANK_IMPORT = "bank import BgMax (read and book)"

# script and arguments at a tiny scale -> the rows it must add to the table: (flow, db, target)
BENCHES = {
    "bank_import": (
        ["bench_bank_import.py", "--payments", "2000"],
        [(BANK_IMPORT, db, t) for db, t in DB_TARGETS],
    ),
    "inbound": (["bench_inbound.py", "--rows", "2000"], [(INBOUND, db, t) for db, t in DB_TARGETS]),
    "dispatch": (
        ["bench_dispatch.py", "--invoices", "3000"],
        [("dispatch", db, t) for db, t in DB_TARGETS],
    ),
    "corrections": (
        ["bench_corrections.py", "2000"],
        [("corrections", db, t) for db, t in DB_TARGETS],
    ),
    "bank_parse": (
        ["bench_bank_parse.py", "2000", "--big", "1"],
        [
            ("BgMax parse", "-", 10),
            ("BgMax parse in chunks", "-", 10),  # the same file
            ("BgMax parse in chunks", "-", 10),  # the big one
            ("closure file read in chunks", "-", None),
        ],
    ),
    "format": (
        ["bench_format.py", "2000"],
        [
            ("format engine write", "-", 5),
            ("format engine read", "-", 5),
            ("format engine read in chunks", "-", 5),
        ],
    ),
    "big_files": (
        ["bench_big_files.py", "--mb", "1"],
        [("bank import big file (path, chunks)", db, None) for db in (LITE, PG)],
    ),
    "ui": (
        # a database of its own, dropped after: the kept inkasso_bench_ui holds 1M cases
        [
            "bench_ui.py",
            "--cases",
            "3000",
            "--events-per-case",
            "2",
            "--drop",
            "--database",
            f"inkasso_bench_ui_test_{uuid.uuid4().hex[:8]}",
        ],
        [
            (f"Inkasso view: {page}", PG, "0.3 s")
            for page in (
                "cases, no filter, page 1",
                "cases, status",
                "case page (2 events)",
                "files, page 1",
            )
        ],
    ),  # fmt: skip
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """Every benchmark at its tiny scale, appending to one BENCH_TABLE file as ``make bench``
    does; the table file, and each benchmark's own lines and result."""
    folder = tmp_path_factory.mktemp("benches")
    table = folder / "table.jsonl"
    results = {}
    for name, (args, _) in BENCHES.items():
        before = table.read_text().splitlines() if table.exists() else []
        env = os.environ | {"PYTHONPATH": str(PROJECT_ROOT / "plugins"), "BENCH_TABLE": str(table)}
        out = subprocess.run(
            [sys.executable, str(PROJECT_ROOT / "bench" / args[0]), *args[1:]],
            cwd=folder, env=env, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
        after = table.read_text().splitlines() if table.exists() else []
        results[name] = (out, [json.loads(line) for line in after[len(before) :]])
    return table, results


@pytest.mark.postgres
@pytest.mark.parametrize("name", sorted(BENCHES))
def test_the_benchmark_runs_and_adds_its_rows_to_the_table(name, runs):
    _, results = runs
    out, lines = results[name]
    assert out.returncode == 0, out.stderr[-3000:]
    got = [(line["flow"], line["db"], line["target"]) for line in lines]
    for want in BENCHES[name][1]:
        assert want in got, (want, got)
    for line in lines:
        assert line["seconds"] > 0 and line["peak_mb"] > 0, line
        if line["floor"]:  # (at a tiny scale the floor's rounding moves the ratio much)
            assert line["ratio"] > 0, line
        # each row is printed as it is measured, in the table's own form
        assert any(row.startswith(f"| {line['flow']} | {line['scale']} |") for row in
                   out.stdout.splitlines()), (line, out.stdout[-3000:])  # fmt: skip


@pytest.mark.postgres
def test_table_prints_every_benchmark_as_one_table(runs):
    table, results = runs
    out = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "bench" / "table.py"), str(table)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    rows = out.stdout.splitlines()
    assert rows[0] == "| flow | scale | db | seconds | floor | ratio | target | peak_mb | verdict |"
    assert rows[1].startswith("|---|")
    lines = [line for _, got in results.values() for line in got]
    assert len(rows) == 2 + len(lines)
    for row, line in zip(rows[2:], lines, strict=True):
        assert row.startswith(f"| {line['flow']} | {line['scale']} | {line['db']} |"), row
        # a row with a target carries its verdict
        assert row.endswith((" ok |", " OVER |") if line["target"] else "|  |"), row
