"""An SQLite ERP stores pendulum DateTimes whatever Airflow's own metadata database is."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import PROJECT_ROOT


def test_sqlite_erp_binds_pendulum_datetimes_without_airflows_sqlite_adapter(tmp_path):
    # a fresh process that never imports airflow: nothing registers Airflow's sqlite3 adapter
    # (Airflow does it only with an SQLite metadata database), as in a task with PostgreSQL
    # metadata
    code = (
        "import sys, pendulum, sqlalchemy as sa\n"
        "from inkasso.db.engine import engine_for_url\n"
        "engine = engine_for_url('sqlite:///' + sys.argv[1])\n"
        "with engine.begin() as conn:\n"
        "    conn.execute(sa.text('CREATE TABLE t (at TIMESTAMP)'))\n"
        "    conn.execute(sa.text('INSERT INTO t VALUES (:at)'),\n"
        "                 {'at': pendulum.datetime(2026, 11, 2, 4, 0, tz='UTC')})\n"
        "    print(conn.execute(sa.text('SELECT at FROM t')).scalar())\n"
        "print('airflow' in sys.modules)\n"
    )
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT / "plugins"))
    out = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "erp.sqlite")],
        env=env,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    stored, airflow_loaded = out.stdout.strip().splitlines()[-2:]
    assert airflow_loaded == "False"
    assert stored == "2026-11-02 04:00:00+00:00"  # the text Airflow's own adapter writes
