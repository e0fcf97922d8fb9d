"""``python -m inkasso_demo.simulator.serve``: the embedded world's services, on fixed ports, staying up.

Starts the SFTP agency simulator (one chrooted account per automated agreement, the host key of
``$AIRFLOW_HOME/inkasso-demo/keys``) and the SMTP sink (mails kept as ``.eml`` files in
``$AIRFLOW_HOME/inkasso-demo/mail``), creates the demo ERP on its first start, and writes the
Airflow connections pointing at all of it (``erp_db``, one ``sftp`` connection per automated
agreement with the host key pinned, ``smtp_default``) into a connections file that every Airflow
component reads through the local-filesystem secrets backend::

    AIRFLOW__SECRETS__BACKEND=airflow.secrets.local_filesystem.LocalFilesystemBackend
    AIRFLOW__SECRETS__BACKEND_KWARGS='{"connections_file_path": "$AIRFLOW_HOME/inkasso-demo/connections.json"}'

Ports: ``INKASSO_DEMO_SFTP_PORT`` (default 2222) and ``INKASSO_DEMO_SMTP_PORT`` (default 2525),
or ``--sftp-port`` / ``--smtp-port``. ``--connections-only`` writes the file and exits.
Stops cleanly on SIGTERM / Ctrl-C.

The agency robot and the demo bank are services of their own (``python -m
inkasso_demo.simulator.robot``, ``python -m inkasso_demo.simulator.bank_service``); ``make
services`` (``python -m inkasso_demo.simulator.stack --services-only``) starts all three.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
from pathlib import Path

DEFAULT_SFTP_PORT = 2222
DEFAULT_SMTP_PORT = 2525
HOST = "127.0.0.1"
LOCAL_FS_BACKEND = "airflow.secrets.local_filesystem.LocalFilesystemBackend"


def connections_file(home: Path) -> Path:
    """Where the demo's connections file lives: ``$AIRFLOW_HOME/inkasso-demo/connections.json``."""
    return Path(home) / "inkasso-demo" / "connections.json"


def secrets_backend_env(home: Path) -> dict[str, str]:
    """The environment that makes an Airflow component read the demo's connections file."""
    return {
        "AIRFLOW__SECRETS__BACKEND": LOCAL_FS_BACKEND,
        "AIRFLOW__SECRETS__BACKEND_KWARGS": json.dumps(
            {"connections_file_path": str(connections_file(home))}
        ),
    }


def demo_connections(env, agreements, sftp_port: int, smtp_port: int) -> dict[str, dict]:
    """The connections of the embedded default, by conn id, in the connections-file form.

    ``erp_db`` (the demo ERP's SQLAlchemy URL), one ``sftp`` connection per automated agreement
    (client key, host key pinned, ``sftp_port``) and ``smtp_default`` (the sink on ``smtp_port``,
    no SSL, no STARTTLS: JSON booleans). ``extra`` is a JSON string, as Airflow stores it.
    """
    from inkasso_demo.simulator.keys import ensure_keypair, sftp_connection_uri_json
    from inkasso_demo.simulator.mail_sink import MailSink

    host_key = ensure_keypair(env.keys / "agency_host_ed25519")
    client_key = ensure_keypair(env.keys / "client_ed25519")
    out: dict[str, dict] = {
        "erp_db": {"conn_type": "generic", "extra": {"sqlalchemy_url": env.erp_url}},
    }
    for a in agreements:
        if a.mode == "sftp" and a.sftp_conn_id:
            out[a.sftp_conn_id] = json.loads(
                sftp_connection_uri_json(
                    HOST,
                    sftp_port,
                    a.agreement_id,
                    str(client_key.private_path),
                    host_key.public_line,
                )
            )
    # the sink's connection form (not started here; it only makes its mail folder)
    out["smtp_default"] = json.loads(MailSink(env.dir / "mail", port=smtp_port).connection_json())
    for conn in out.values():
        conn["extra"] = json.dumps(conn.get("extra") or {})
    return out


def write_connections(path: Path, connections: dict[str, dict]) -> Path:
    """Write the connections file atomically (readers never see half a file); mode 0600."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(connections, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path


def prepare(home: Path, sftp_port: int, smtp_port: int):
    """Create the demo ERP once and write the connections file; returns (env, agreements)."""
    from inkasso.agreements import load_agreements
    from inkasso.db.engine import engine_for_url
    from inkasso_demo.demo import DemoEnvironment, ensure_erp

    env = DemoEnvironment(Path(home))
    env.dir.mkdir(parents=True, exist_ok=True)
    ensure_erp(env)
    agreements = load_agreements(engine_for_url(env.erp_url))
    write_connections(
        connections_file(env.home), demo_connections(env, agreements, sftp_port, smtp_port)
    )
    return env, agreements


def _ports(args) -> tuple[int, int]:
    sftp = args.sftp_port or int(os.environ.get("INKASSO_DEMO_SFTP_PORT", DEFAULT_SFTP_PORT))
    smtp = args.smtp_port or int(os.environ.get("INKASSO_DEMO_SMTP_PORT", DEFAULT_SMTP_PORT))
    return sftp, smtp


def main(argv: list[str] | None = None) -> int:
    """Start the services and keep them up until SIGTERM / SIGINT."""
    parser = argparse.ArgumentParser(
        prog="python -m inkasso_demo.simulator.serve", description=__doc__
    )
    parser.add_argument("--sftp-port", type=int, help="agency SFTP port (default 2222)")
    parser.add_argument("--smtp-port", type=int, help="SMTP sink port (default 2525)")
    parser.add_argument(
        "--connections-only", action="store_true", help="write the connections file and exit"
    )
    args = parser.parse_args(argv)
    sftp_port, smtp_port = _ports(args)
    home = Path(os.environ.get("AIRFLOW_HOME", ".airflow")).resolve()
    env, agreements = prepare(home, sftp_port, smtp_port)
    path = connections_file(home)
    print(f"connections for {len(agreements)} agreements written to {path}", flush=True)
    if args.connections_only:
        return 0

    from inkasso_demo.simulator.agency import start_agency
    from inkasso_demo.simulator.mail_sink import MailSink

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    agency = start_agency(env.sftp_root, env.keys, agreements, port=sftp_port, host=HOST)
    sink = MailSink(env.dir / "mail", port=smtp_port).start()
    print(
        f"agency SFTP simulator on {HOST}:{sftp_port} (accounts in {env.sftp_root}), "
        f"SMTP sink on {HOST}:{smtp_port} (mails in {env.dir / 'mail'}); Ctrl-C stops",
        flush=True,
    )
    try:
        stop.wait()
    finally:
        agency.stop()
        sink.stop()
    print("services stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
