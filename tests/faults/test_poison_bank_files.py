"""Poison bank files in a client's drop (SQLite and PostgreSQL): each is quarantined whole with its
line and field, the other files of the drop are booked, and a rerun books nothing twice."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys

import pytest
from sqlalchemy import text

from conftest import PROJECT_ROOT
from inkasso.bank.drops import BankDrop
from inkasso.bank.importer import import_drop
from tests.db_helpers import receive_at_example_accounts

DAY = dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 2, 3, tzinfo=dt.UTC)
NO_CLIENT = 1


@pytest.fixture
def demo(erp_engine):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=200, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    return erp_engine


def ocr(reference_dir) -> bytes:
    return (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt").read_bytes()


def superscript_record_type(data: bytes) -> bytes:
    """The record type of line 2 ('20') turned into '²0': isdigit() says yes, int() says no."""
    lines = data.split(b"\n")
    lines[1] = lines[1][:6] + "²".encode("iso-8859-1") + lines[1][7:]
    return b"\n".join(lines)


def nul_in_kid(data: bytes) -> bytes:
    """A NUL in the KID of the first amount item (line 3, KID at columns 50-74)."""
    lines = data.split(b"\n")
    lines[2] = lines[2][:70] + b"\x00" + lines[2][71:]
    return b"\n".join(lines)


POISONS = {
    "superscript": (superscript_record_type, 2, "record_type"),
    "nul": (nul_in_kid, 3, "kid"),
    "truncated": (lambda d: d[: len(d) // 2], 23, None),
    "empty": (lambda d: b"", None, None),
    "utf8_bom": (lambda d: b"\xef\xbb\xbf" + d, 1, None),
    "huge_line": (lambda d: d.replace(b"\n", b"X" * 1_000_000 + b"\n", 1), 1, None),
    "wrong_encoding": (
        lambda d: d.replace(b"NY000010", "NY000010".encode("utf-16-le"), 1),
        1,
        "record_type",
    ),
}


def log_rows(engine):
    with engine.connect() as conn:
        return conn.execute(
            text(
                "SELECT f.file_name, f.status, i.line, i.field, i.reason FROM ink_file_log f "
                "LEFT JOIN ink_file_issue i ON i.file_id = f.file_id ORDER BY f.file_name"
            )
        ).all()


def count(engine, sql):
    with engine.connect() as conn:
        return conn.execute(text(sql)).scalar()


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poison_file_is_quarantined_and_the_rest_of_the_drop_is_booked(
    poison, demo, tmp_path, reference_dir
):
    mutate, line, field = POISONS[poison]
    good = ocr(reference_dir)
    drop_dir = tmp_path / "drop"
    drop_dir.mkdir()
    # the poison file sorts first: the bug was that it stopped every file after it
    (drop_dir / "a_poison.txt").write_bytes(mutate(good))
    (drop_dir / "b_good.txt").write_bytes(good)
    drop = BankDrop(NO_CLIENT, folder=str(drop_dir))

    result = import_drop(demo, drop, business_date=DAY, base=tmp_path / "files", now=NOW)

    by_name = {f["file_name"]: f for f in result["files"]}
    assert by_name["b_good.txt"]["status"] == "applied"
    assert by_name["a_poison.txt"]["status"] == "quarantined"
    logged = {row.file_name: row for row in log_rows(demo)}
    assert logged["a_poison.txt"].status == "quarantined"
    assert logged["a_poison.txt"].line == line
    assert logged["a_poison.txt"].field == field
    assert logged["a_poison.txt"].reason
    assert (tmp_path / "files" / "quarantine" / "bank" / "1" / "a_poison.txt").exists()
    assert count(demo, "SELECT COUNT(*) FROM erp_payment") == 20

    again = import_drop(demo, drop, business_date=DAY, base=tmp_path / "files", now=NOW)

    assert again["skipped_known"] == 2 and again["files"] == []
    assert count(demo, "SELECT COUNT(*) FROM erp_payment") == 20
    assert count(demo, "SELECT COUNT(*) FROM ink_file_log") == 2


def test_cli_names_file_line_and_field_of_the_superscript_digit(tmp_path, reference_dir):
    path = tmp_path / "OCR.superscript.txt"
    path.write_bytes(superscript_record_type(ocr(reference_dir)))
    env = os.environ | {"PYTHONPATH": str(PROJECT_ROOT / "plugins")}

    result = subprocess.run(
        [sys.executable, "-m", "inkasso", "read", "--format", "ocr_giro", str(path)],
        capture_output=True, text=True, env=env, cwd=PROJECT_ROOT, timeout=60,
    )  # fmt: skip

    assert result.returncode == 1
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert f"{path} line 2 field record_type: unknown record type '²0'" in result.stderr
