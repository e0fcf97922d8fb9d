"""A prepare killed hard between writing its file and committing (a child process that exits with
os._exit) leaves an unlogged file in the outbox; the next prepare of that agreement and day adopts
it when its bytes are the run's, else removes it, and says so (SQLite and PostgreSQL)."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from conftest import PROJECT_ROOT
from tests.db_helpers import query_frame as rows

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
CUTOFF = NOW + timedelta(hours=1)

CHILD = """
import os, sys
from datetime import date, datetime
from airflow.sdk import ObjectStoragePath
from inkasso.agreements import load_agreements
from inkasso.dispatch import prepare_new_cases, run
from inkasso.db.engine import engine_for_url

url, base, day, now, cutoff = sys.argv[1:6]
real_write = run.write_new_file

def write_then_die(path, data):
    real_write(path, data)
    os._exit(9)  # a hard kill after the file is written, before the commit

run.write_new_file = write_then_die
engine = engine_for_url(url)
(agreement,) = load_agreements(engine, agreement_id="lowell_no")
prepare_new_cases(
    engine, agreement, date.fromisoformat(day), datetime.fromisoformat(cutoff),
    ObjectStoragePath(base), now=datetime.fromisoformat(now),
)
"""


@pytest.fixture
def base(tmp_path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{tmp_path / 'files'}")


@pytest.fixture
def erp(erp_engine):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=300, start_day=DAY)
    return erp_engine


def killed_prepare(erp_url, base):
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            erp_url,
            str(base),
            DAY.isoformat(),
            NOW.isoformat(),
            CUTOFF.isoformat(),
        ],
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT / "plugins")},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 9, done.stderr[-3000:]


def outbox(base) -> list:
    folder = base / "outbox" / "lowell_no"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def prepare(engine, base):
    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases

    (agreement,) = load_agreements(engine, agreement_id="lowell_no")
    return prepare_new_cases(engine, agreement, DAY, CUTOFF, base, now=NOW)


def test_kill_between_write_and_commit_leaves_an_orphan_the_rerun_settles(erp, erp_url, base):
    killed_prepare(erp_url, base)
    (orphan,) = outbox(base)
    assert rows(erp, "SELECT COUNT(*) AS n FROM ink_file_log")["n"][0] == 0
    assert rows(erp, "SELECT COUNT(*) AS n FROM ink_case")["n"][0] == 0

    result = prepare(erp, base)
    assert result["status"] == "written"
    logged = rows(erp, "SELECT file_name, path, sha256, detail FROM ink_file_log")
    assert len(logged) == 1
    (left,) = outbox(base)  # one file at rest: the logged one, with its logged bytes
    assert left == logged["file_name"][0]
    data = (base / "outbox" / "lowell_no" / left).read_bytes()
    assert hashlib.sha256(data).hexdigest() == logged["sha256"][0]
    if erp.dialect.name == "sqlite":
        # the rolled-back case ids are given again: the same bytes, so the orphan is adopted
        assert left == orphan
        assert result["orphans"] == [f"adopted orphan {orphan}: its bytes are this run's file"]
    else:
        # PostgreSQL's sequences do not roll back: other case ids, other bytes, orphan removed
        assert left != orphan
        assert result["orphans"][0].startswith(f"removed orphan {orphan} (not this run's bytes")
    assert logged["detail"][0] == "; ".join(result["orphans"])

    again = prepare(erp, base)  # a further rerun finds the day's file and touches nothing
    assert again["status"] == "exists" and outbox(base) == [left]


def test_orphan_with_other_bytes_is_removed_and_another_days_is_left(erp, erp_url, base):
    killed_prepare(erp_url, base)
    (orphan,) = outbox(base)
    folder = base / "outbox" / "lowell_no"
    other_day = orphan.replace("20261102", "20261101")
    (folder / other_day).write_bytes(
        (folder / orphan).read_bytes().replace(b"20261102", b"20261101", 1)
    )
    with erp.begin() as conn:  # the ERP moved on: the client's name in the header changed
        conn.execute(text("UPDATE erp_client SET name = 'Nordlys Energi ASA' WHERE client_id = 1"))
    result = prepare(erp, base)
    assert result["status"] == "written"
    assert orphan not in outbox(base)
    assert other_day in outbox(base), "another day's file waits for that day's rerun"
    assert any(n.startswith(f"removed orphan {orphan}") for n in result["orphans"])


def test_a_cut_off_unlogged_file_is_left_while_recent_and_removed_once_old(erp_engine, tmp_path):
    from types import SimpleNamespace

    from airflow.sdk import ObjectStoragePath

    from inkasso.dispatch.orphans import UNREADABLE_AGE, settle_orphans
    from inkasso.formats import load_layout, load_profile

    spec = load_profile("lowell").files["new_cases"]
    layout = load_layout(spec.layout)
    agreement = SimpleNamespace(agreement_id="lowell_no", customer_no_at_agency="40012")
    folder = ObjectStoragePath(f"file://{tmp_path / 'outbox'}")
    folder.mkdir(parents=True)
    name = spec.file_name("40012", NOW)
    (folder / name).write_bytes(b"00" + b"40012".ljust(10))  # the kill cut the write short
    (folder / "notes.txt").write_bytes(b"not a new-case file: never touched")

    with erp_engine.connect() as conn:
        recent = settle_orphans(conn, agreement, spec, layout, DAY, folder, b"x")
        assert recent.adopted is None and (folder / name).exists()
        assert recent.notes == [
            f"left unreadable unlogged file {name} (too recent to be an orphan)"
        ]
        old = (tmp_path / "outbox" / name).stat().st_mtime - UNREADABLE_AGE - 1
        os.utime(tmp_path / "outbox" / name, (old, old))
        settled = settle_orphans(conn, agreement, spec, layout, DAY, folder, b"x")
    assert not (folder / name).exists() and (folder / "notes.txt").exists()
    assert settled.notes == [
        f"removed orphan {name} (unreadable; left by a prepare killed before its commit)"
    ]
