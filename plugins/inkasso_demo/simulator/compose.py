"""``python -m inkasso_demo.simulator.compose``: what ``docker-compose.yaml`` derives from the profiles.

* ``init --dir /secrets``: the compose file's one-shot ``inkasso-init`` service. It creates the
  agency SFTP server's host key (``ssh_host_ed25519_key``, once; reused afterwards) and writes
  ``connections.json`` for Airflow's local-filesystem secrets backend: ``erp_db``,
  ``smtp_default`` and one ``sftp`` connection per automated demo agreement, host key pinned.
  Nothing is done by hand.
* ``users``: the ``agency-sftp`` (atmoz/sftp) accounts, ``login:password:uid:gid:folders``, with
  each agency profile's remote folders (upload, outbox, processed), so that delivery and
  inbound find on the container the folders the profiles name. The compose file lists these
  lines; ``tests/scheduler/test_compose.py`` checks that they still match.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

SFTP_HOST = "agency-sftp"  # the compose service name
SFTP_GID = 100
FIRST_UID = 1001
HOST_KEY = "ssh_host_ed25519_key"
ERP_URL = "postgresql+psycopg2://erp:erp@erp-db:5432/erp"


@dataclass(frozen=True)
class SftpAccount:
    """One agency account on the compose SFTP server: login (the agreement id) and folders."""

    login: str
    agency: str
    folders: tuple[str, ...]  # relative to the account's root, parents before children

    def atmoz_line(self, uid: int) -> str:
        """The account as atmoz/sftp wants it (password = login: a local trial only)."""
        return f"{self.login}:{self.login}:{uid}:{SFTP_GID}:{','.join(self.folders)}"


def profile_folders(agency: str) -> tuple[str, ...]:
    """The remote folders of an agency's profile, relative, without duplicates."""
    from inkasso.formats.profile import load_profile

    remote = load_profile(agency).remote
    out: list[str] = []
    for folder in (remote.upload_dir, remote.outbox_dir, remote.processed_dir):
        if folder and folder.strip("/") not in out:
            out.append(folder.strip("/"))
    return tuple(out)


def sftp_accounts() -> list[SftpAccount]:
    """One account per automated (SFTP) demo agreement, in the demo ERP's order."""
    from inkasso_demo.erp.clients import CLIENTS

    return [
        SftpAccount(c.agreement_id, c.agency, profile_folders(c.agency))
        for c in CLIENTS
        if c.mode == "sftp"
    ]


def atmoz_users() -> list[str]:
    """The ``agency-sftp`` service's command: one atmoz/sftp user line per account."""
    return [a.atmoz_line(FIRST_UID + i) for i, a in enumerate(sftp_accounts())]


def compose_connections(host_key_line: str) -> dict[str, dict]:
    """The connections of the compose set-up, by conn id, in the connections-file form."""
    from inkasso_demo.erp.clients import CLIENTS

    host_key = " ".join(host_key_line.split()[:2])
    out: dict[str, dict] = {
        "erp_db": {"conn_type": "generic", "extra": {"sqlalchemy_url": ERP_URL}},
        "smtp_default": {
            "conn_type": "smtp",
            "host": "mailpit",
            "port": 1025,
            "extra": {
                "disable_ssl": True,
                "disable_tls": True,
                "from_email": "inkasso@airflow.example",
            },
        },
    }
    for c in CLIENTS:
        if c.mode == "sftp":
            out[f"inkasso_sftp_{c.agreement_id}"] = {
                "conn_type": "sftp",
                "host": SFTP_HOST,
                "port": 22,
                "login": c.agreement_id,
                "password": c.agreement_id,
                "extra": {"host_key": host_key, "look_for_keys": "false"},
            }
    for conn in out.values():
        conn["extra"] = json.dumps(conn["extra"])
    return out


def init(directory: Path) -> Path:
    """Create the host key once and (re)write ``connections.json`` pinning it; returns the file."""
    from inkasso_demo.simulator.keys import ensure_keypair
    from inkasso_demo.simulator.serve import write_connections

    directory = Path(directory)
    key = ensure_keypair(directory / HOST_KEY)
    path = write_connections(directory / "connections.json", compose_connections(key.public_line))
    path.chmod(0o644)  # read by the Airflow containers' user, on a volume of its own
    return path


def main(argv: list[str] | None = None) -> int:
    """``init --dir D`` (host key and connections) or ``users`` (print the SFTP accounts)."""
    parser = argparse.ArgumentParser(prog="python -m inkasso_demo.simulator.compose")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="host key and connections.json").add_argument(
        "--dir", type=Path, required=True
    )
    sub.add_parser("users", help="the agency-sftp accounts with the profiles' folders")
    args = parser.parse_args(argv)
    if args.command == "init":
        print(f"host key and connections in {init(args.dir).parent}")
    else:
        print("\n".join(atmoz_users()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
