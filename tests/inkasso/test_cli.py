"""``python -m inkasso read``: run as an operator runs it (a subprocess, PYTHONPATH=plugins as the
Makefile exports), on the reference bank files, on a written Lowell file and on broken files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date

import pandas as pd
import pytest

from conftest import PROJECT_ROOT


def inkasso(*args: str) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": str(PROJECT_ROOT / "plugins")}
    return subprocess.run(
        [sys.executable, "-m", "inkasso", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=PROJECT_ROOT,
        timeout=60,
    )


def records(result: subprocess.CompletedProcess) -> list[dict]:
    assert result.returncode == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def test_help_lists_every_layout_and_ocr_giro():
    from inkasso.formats import list_layouts

    result = inkasso("read", "--help")
    assert result.returncode == 0
    listed = result.stdout.split("formats:", 1)[1].replace("\n", " ")
    names = {n.strip() for n in listed.split(",")}
    assert names == {*list_layouts(), "ocr_giro"}
    assert {"bgmax", "lowell.closure", "lowell.corrections", "intrum.new_cases"} <= names


def test_bgmax_sample_reads_to_the_counts_and_amounts_of_its_end_record(reference_dir):
    got = records(inkasso("read", "--format", "bgmax", str(reference_dir / "bgmax/BgMaxfil4.txt")))
    by_type = pd.DataFrame(got).groupby("record")
    payments = by_type.get_group("payment")
    (end,) = by_type.get_group("end").to_dict("records")
    assert len(payments) == end["payment_count"] == 9
    assert sum(payments["amount"]) == sum(by_type.get_group("deposit")["amount"]) == 1_260_000
    assert all(isinstance(r["amount"], int) for r in got if "amount" in r)
    assert got[0]["record"] == "start" and got[0]["line"] == 1
    assert [r["line"] for r in got] == sorted(r["line"] for r in got)
    assert {r["payment_date"] for r in got if r["record"] == "deposit"} <= {
        d.isoformat() for d in pd.date_range("2004-05-01", "2004-05-31").date
    }


def test_ocr_giro_sample_reads_to_its_end_record(reference_dir):
    path = reference_dir / "ocr-giro/ocr_giro_transactions.txt"
    got = records(inkasso("read", "--format", "ocr_giro", str(path)))
    payments = [r for r in got if r["record"] == "payment"]
    end = got[-1]
    assert end["record"] == "transmission_end" and end["kind"] == "payments"
    assert len(payments) == end["transaction_count"] == 20
    assert sum(abs(p["amount"]) for p in payments) == end["total_amount"]
    assert date.fromisoformat(payments[0]["payment_date"]).year == 1992


def test_avtalegiro_file_prints_no_payments(reference_dir):
    path = reference_dir / "ocr-giro/avtalegiro_agreements.txt"
    got = records(inkasso("read", "--format", "ocr_giro", str(path)))
    assert [r["record"] for r in got] == ["transmission_end"]
    assert got[0]["kind"] == "avtalegiro_agreements"


def test_broken_bgmax_file_exits_non_zero_naming_file_line_and_field(reference_dir):
    path = reference_dir / "bgmax/BgMaxfil4_broken.txt"
    result = inkasso("read", "--format", "bgmax", str(path))
    assert result.returncode == 1
    assert result.stdout == ""
    assert "BgMaxfil4_broken.txt line 67 field payment_count" in result.stderr
    assert "trailer says 8, the file has 9" in result.stderr


def test_written_lowell_corrections_file_reads_back_to_what_was_written(tmp_path):
    from inkasso.formats import load_layout

    written = pd.DataFrame(
        {
            "case_id": [101, 102, 103],
            "agency_case_ref": ["L-1", "", "L-3"],
            "invoice_no": ["900001", "900002", "900003"],
            "correction_type": ["DP", "CN", "RC"],
            "amount": [12_550, -1_000, 99_999_00],
            "correction_date": [date(2026, 11, 2)] * 3,
        }
    )
    path = tmp_path / "RD4001232026110304300.txt"
    layout = load_layout("lowell.corrections")
    path.write_bytes(
        layout.write({"customer_no": "400123", "file_date": date(2026, 11, 3)}, written)
    )

    got = records(inkasso("read", "--format", "lowell.corrections", str(path)))
    assert got[0] == {
        "record": "header",
        "line": 1,
        "customer_no": "400123",
        "file_date": "2026-11-03",
    }
    assert got[-1] == {
        "record": "trailer",
        "line": 5,
        "record_count": 3,
        "amount_total": 12_550 - 1_000 + 99_999_00,
    }
    details = pd.DataFrame(got[1:-1]).drop(columns=["record", "line"])
    expected = written.assign(correction_date="2026-11-02")
    pd.testing.assert_frame_equal(details, expected, check_dtype=False)


def test_broken_lowell_file_names_the_line_and_field(tmp_path):
    from inkasso.formats import load_layout

    frame = pd.DataFrame(
        {
            "case_id": [1, 2],
            "agency_case_ref": ["", ""],
            "invoice_no": ["1", "2"],
            "correction_type": ["DP", "DP"],
            "amount": [500, 700],
            "correction_date": [date(2026, 11, 2)] * 2,
        }
    )
    data = load_layout("lowell.corrections").write(
        {"customer_no": "1", "file_date": date(2026, 11, 2)}, frame
    )
    lines = data.split(b"\r\n")
    lines[2] = lines[2][:54] + b"XX" + lines[2][56:]  # line 3: an unknown correction type
    path = tmp_path / "RD_broken.txt"
    path.write_bytes(b"\r\n".join(lines))

    result = inkasso("read", "--format", "lowell.corrections", str(path))
    assert result.returncode == 1 and result.stdout == ""
    assert f"{path} line 3 field correction_type" in result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["read", "--format", "nosuch", "x.txt"], "invalid choice: 'nosuch'"),
        (["read", "x.txt"], "--format"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = inkasso(*args)
    assert result.returncode == 2 and message in result.stderr


def test_missing_file_exits_2_naming_it(tmp_path):
    result = inkasso("read", "--format", "bgmax", str(tmp_path / "gone.txt"))
    assert result.returncode == 2
    assert "gone.txt" in result.stderr


@pytest.mark.parametrize("name", ["BgMaxfil4.txt", "BgMaxfil4_broken.txt"])
def test_output_into_a_closed_pipe_is_not_called_a_broken_file(reference_dir, name):
    """``inkasso read ... | head -1``: the reader of the output leaving is not the file's fault,
    so no "cannot be read" and no traceback; a broken file still says what is wrong with it."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader (head) is gone before the first record is written
    try:
        result = subprocess.run(
            [sys.executable, "-m", "inkasso", "read", "--format", "bgmax"]
            + [str(reference_dir / "bgmax" / name)],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"PYTHONPATH": str(PROJECT_ROOT / "plugins")},
            cwd=PROJECT_ROOT,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert "cannot be read" not in result.stderr
    assert "Traceback" not in result.stderr and "Exception ignored" not in result.stderr
    if name == "BgMaxfil4.txt":
        assert result.stderr == "" and result.returncode == 141  # as a shell reports SIGPIPE
    else:
        assert result.returncode == 1
        assert "line 67 field payment_count" in result.stderr


def test_migrate_creates_and_upgrades_the_pipeline_tables_twice_safely(erp_url, capsys):
    import sqlalchemy as sa
    from alembic.script import ScriptDirectory

    from inkasso.cli import main
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import MIGRATIONS_DIR
    from inkasso.db.schema import pipeline_metadata

    head = ScriptDirectory(str(MIGRATIONS_DIR)).get_current_head()
    assert main(["migrate", "--url", erp_url]) == 0
    assert main(["migrate", "--url", erp_url]) == 0  # again: nothing to do, no error
    assert capsys.readouterr().out.count(f"at revision {head}") == 2
    tables = set(sa.inspect(engine_for_url(erp_url)).get_table_names())
    assert set(pipeline_metadata.tables) <= tables


@pytest.mark.parametrize("command", [["check", "--date", "2026-11-03"], ["migrate"]])
def test_without_url_or_connection_one_line_names_the_connection(command):
    """``inkasso check`` / ``migrate`` with no ``--url`` outside an environment that has the
    ``erp_db`` connection: one line saying so (exit 2), not a traceback."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW_CONN_", "AIRFLOW__SECRETS"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "inkasso", *command],
        capture_output=True, text=True, cwd=PROJECT_ROOT, timeout=120,
        env=env | {"PYTHONPATH": str(PROJECT_ROOT / "plugins")},
    )  # fmt: skip
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(f"inkasso {command[0]}: no --url given") and "'erp_db'" in line
