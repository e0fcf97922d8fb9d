"""Start the agency simulator for a set of agreements: one SFTP account each, folders from the
agency's profile, and the Airflow connection (host key pinned) for each agreement."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from inkasso.formats import load_profile
from inkasso_demo.simulator.keys import ensure_keypair, sftp_connection_uri_json
from inkasso_demo.simulator.sftp_server import AgencySftpServer


@dataclass
class RunningAgency:
    """The running simulator and the connections (env var name -> JSON) pointing at it."""

    server: AgencySftpServer
    root: Path
    connections: dict[str, str] = field(default_factory=dict)

    def stop(self) -> None:
        """Stop the SFTP server."""
        self.server.stop()

    def start(self) -> int:
        """Start it again on the same port (the connections stay valid); returns the port."""
        return self.server.start()


def profile_folders(agency: str) -> list[str]:
    """The remote folders an agency's profile uses (upload, outbox, processed)."""
    remote = load_profile(agency).remote
    return [d.strip("/") for d in (remote.upload_dir, remote.outbox_dir, remote.processed_dir) if d]


def start_agency(
    root: Path, keys_dir: Path, agreements: Iterable, port: int = 0, host: str = "127.0.0.1"
) -> RunningAgency:
    """Start the simulator for the automated (``sftp``) agreements; returns it with connections.

    Keys are made once under ``keys_dir`` and reused, so pinned host keys stay valid across days.
    ``port`` 0 picks a free port (the demo); a fixed port serves a long-running Airflow.
    """
    host_key = ensure_keypair(keys_dir / "agency_host_ed25519")
    client_key = ensure_keypair(keys_dir / "client_ed25519")
    automated = [a for a in agreements if a.mode == "sftp"]
    server = AgencySftpServer(root, host_key.private_path, {}, host=host, port=port, folders=())
    for a in automated:
        home = server.add_account(a.agreement_id, client_key.public_line)
        for folder in profile_folders(a.agency):
            (home / folder).mkdir(parents=True, exist_ok=True)
    port = server.start()
    running = RunningAgency(server=server, root=root)
    for a in automated:
        running.connections[f"AIRFLOW_CONN_{a.sftp_conn_id.upper()}"] = sftp_connection_uri_json(
            host, port, a.agreement_id, str(client_key.private_path), host_key.public_line
        )
    return running
