"""`make demo` twice: two consecutive days, every delivered file read back, nothing duplicated."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import sqlalchemy as sa

from conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e


def run_demo(env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "inkasso_demo.demo"],
        env=env,
        cwd=PROJECT_ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )


def migrated_env(home) -> dict:
    """The environment of a demo in ``home``, its Airflow database migrated."""
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
        "INKASSO_BASE": str(home / "inkasso-files"),
    }
    migrate = subprocess.run(
        [str(PROJECT_ROOT / ".venv" / "bin" / "airflow"), "db", "migrate"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert migrate.returncode == 0, migrate.stderr[-2000:]
    return env


def pipeline_after(home) -> dict:
    """What the demo's pipeline tables hold: case-file days, duplicates, manual cases and files."""
    engine = sa.create_engine(f"sqlite:///{home / 'inkasso-demo' / 'erp.sqlite'}")
    with engine.connect() as conn:
        days = conn.execute(
            sa.text(
                "SELECT business_date, COUNT(*) FROM ink_file_log WHERE kind = 'new_cases' GROUP BY business_date"
            )
        ).all()
        dup_cases = conn.execute(
            sa.text("SELECT invoice_id FROM ink_case GROUP BY invoice_id HAVING COUNT(*) > 1")
        ).all()
        undelivered = conn.execute(
            sa.text("SELECT COUNT(*) FROM ink_file_log WHERE status = 'written'")
        ).scalar()
        manual_cases = dict(
            conn.execute(
                sa.text(
                    "SELECT k.status, COUNT(*) FROM ink_case k JOIN ink_agreement a "
                    "USING (agreement_id) WHERE a.mode = 'manual' GROUP BY k.status"
                )
            ).all()
        )
        manual_files = conn.execute(
            sa.text(
                "SELECT f.agreement_id, f.kind, f.status, f.remote_path FROM ink_file_log f "
                "JOIN ink_agreement a USING (agreement_id) "
                "WHERE a.mode = 'manual' AND f.direction = 'in'"
            )
        ).all()
    engine.dispose()
    return {
        "days": [str(d) for d, _ in days],
        "dup_cases": dup_cases,
        "undelivered": undelivered,
        "manual_cases": manual_cases,
        "manual_files": manual_files,
    }


def test_demo_runs_consecutive_days_without_duplicates(tmp_path):
    home = tmp_path / "airflow"
    env = migrated_env(home)

    first = run_demo(env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "=== inkasso_dispatch 2026-11-02 ===" in first.stdout
    assert "Day 2026-11-02 done" in first.stdout

    second = run_demo(env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "=== inkasso_dispatch 2026-11-03 ===" in second.stdout

    after = pipeline_after(home)
    assert after["days"] == ["2026-11-02", "2026-11-03"]
    assert after["dup_cases"] == []
    assert after["undelivered"] == 0
    # manual-export agreements: the robot plays the person and the agency, inbound reads the
    # answers from the manual inbox; every case got its receipt the day it was sent
    manual_cases, manual_files = after["manual_cases"], after["manual_files"]
    assert manual_cases.get("registered", 0) > 0, manual_cases
    assert "sent" not in manual_cases, manual_cases
    assert {f.agreement_id for f in manual_files} == {"credicare", "intrum"}
    assert {f.status for f in manual_files} == {"applied"}
    assert all(
        "/manual_inbox/" in f.remote_path and "/processed/" in f.remote_path for f in manual_files
    )
    for agreement in ("credicare", "intrum"):
        inbox = home / "inkasso-files" / "manual_inbox" / agreement
        assert [p.name for p in inbox.iterdir() if p.is_file()] == [], "the inbox is emptied"

    # the runs in Airflow's database carry the names inkasso_demo_day (make airflow) triggers for
    # a day, so playing a make-demo day there again resets these runs: Airflow keeps one run per
    # DAG and logical date, and a run under another name made every trigger of that day fail
    meta = sa.create_engine(f"sqlite:///{home / 'airflow.db'}")
    with meta.connect() as conn:
        runs = conn.execute(sa.text("SELECT dag_id, run_id FROM dag_run")).all()
    meta.dispose()
    flows = ("bank_import", "corrections", "dispatch", "inbound", "report")
    assert sorted(runs) == sorted(
        (f"inkasso_{flow}", f"demo__{day}__inkasso_{flow}")
        for flow in flows
        for day in ("2026-11-02", "2026-11-03")
    )


def test_after_start_up_the_collector_runs_again_and_skips_what_start_up_built():
    # `make demo` turns the collector off while Airflow starts; left off, a day's cyclic garbage
    # would pile up, and start-up's objects left in it cost full walks during the day and at exit
    import gc

    from inkasso_demo.demo import keep_start_up_out_of_the_collector

    gc.disable()
    try:
        keep_start_up_out_of_the_collector()
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.enable()
