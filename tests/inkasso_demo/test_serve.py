"""The embedded world's services: connections every Airflow process reads, fixed ports, fail fast."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import PROJECT_ROOT


@pytest.fixture(scope="module")
def demo_home(tmp_path_factory):
    """A demo home with the demo ERP and the connections file (fixed ports)."""
    from inkasso_demo.simulator.mail_sink import free_port
    from inkasso_demo.simulator.serve import prepare

    home = tmp_path_factory.mktemp("demo-home")
    sftp_port, smtp_port = free_port(), free_port()
    env, agreements = prepare(home, sftp_port, smtp_port)
    return home, env, agreements, sftp_port, smtp_port


def _airflow_env(home: Path) -> dict[str, str]:
    from inkasso_demo.simulator.serve import secrets_backend_env

    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__SECRETS")}
    return env | secrets_backend_env(home) | {"PYTHONPATH": str(PROJECT_ROOT / "plugins")}


def test_another_airflow_process_reads_the_connections_file(demo_home):
    home, env, agreements, sftp_port, smtp_port = demo_home
    code = (
        "import json, sys\n"
        "from airflow.sdk import BaseHook\n"
        "out = {}\n"
        "for cid in sys.argv[1:]:\n"
        "    c = BaseHook.get_connection(cid)\n"
        "    out[cid] = [c.conn_type, c.host, c.port, c.login, c.extra_dejson]\n"
        "print(json.dumps(out))\n"
    )
    sftp_ids = [a.sftp_conn_id for a in agreements if a.mode == "sftp"]
    assert len(sftp_ids) >= 5
    out = subprocess.run(
        [sys.executable, "-c", code, "erp_db", "smtp_default", *sftp_ids],
        env=_airflow_env(home),
        capture_output=True,
        text=True,
        check=True,
    )
    conns = json.loads(out.stdout.strip().splitlines()[-1])
    assert conns["erp_db"][4]["sqlalchemy_url"] == env.erp_url
    smtp = conns["smtp_default"]
    assert smtp[:3] == ["smtp", "127.0.0.1", smtp_port]
    assert smtp[4]["disable_ssl"] is True and smtp[4]["disable_tls"] is True  # JSON booleans
    host_key = (env.keys / "agency_host_ed25519.pub").read_text().split()[:2]
    for cid in sftp_ids:
        conn_type, host, port, login, extra = conns[cid]
        assert (conn_type, host, port) == ("sftp", "127.0.0.1", sftp_port)
        assert extra["host_key"].split() == host_key  # pinned
        assert Path(extra["key_file"]).is_file()


def test_the_sftp_connection_reaches_the_agency_account_on_its_fixed_port(demo_home):
    """Through SFTPHook (host key pinned) in another process, as a task would."""
    from inkasso_demo.simulator.agency import start_agency

    home, env, agreements, sftp_port, _ = demo_home
    agency = start_agency(env.sftp_root, env.keys, agreements, port=sftp_port)
    try:
        assert agency.server.port == sftp_port
        code = (
            "from airflow.providers.sftp.hooks.sftp import SFTPHook\n"
            "print(sorted(SFTPHook(ssh_conn_id='inkasso_sftp_lowell_no').list_directory('.')))\n"
        )
        out = subprocess.run(
            [sys.executable, "-c", code],
            env=_airflow_env(home),
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        agency.stop()
    listed = out.stdout.strip().splitlines()[-1]
    home_dir = env.sftp_root / "lowell_no"
    assert listed == str(sorted(p.name for p in home_dir.iterdir()))
    assert listed != "[]"


def test_a_missing_connection_fails_at_once_naming_it(airflow_db):
    from airflow.sdk.exceptions import AirflowFailException

    from inkasso.connections import require_agreement_connection, require_connection

    with pytest.raises(AirflowFailException, match="'erp_db_missing' \\(the ERP database\\)"):
        require_connection("erp_db_missing", "the ERP database")
    agreement = {"agreement_id": "lowell_no", "mode": "sftp", "sftp_conn_id": "nope_sftp"}
    with pytest.raises(AirflowFailException, match="'nope_sftp' \\(SFTP of agreement lowell_no\\)"):
        require_agreement_connection(agreement)
    # a manual-export agreement needs no connection
    require_agreement_connection({"agreement_id": "intrum", "mode": "manual", "sftp_conn_id": None})
