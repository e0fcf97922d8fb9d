"""SSH key pairs for the agency simulator and the Airflow SFTP connections that reach it."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import asyncssh


@dataclass(frozen=True)
class KeyPair:
    """An ed25519 key on disk: the private key file, its ``.pub`` and the public key line."""

    private_path: Path
    public_path: Path
    public_line: str  # "ssh-ed25519 AAAA..." (no comment), as the ``host_key`` extra wants it


def _public_line(key: asyncssh.SSHKey) -> str:
    """The ``<type> <base64>`` part of a key's OpenSSH public form, without a comment."""
    kind, data = key.export_public_key("openssh").decode("ascii").split()[:2]
    return f"{kind} {data}"


def ensure_keypair(path: Path) -> KeyPair:
    """Create an ed25519 key at ``path`` (OpenSSH format, mode 0600) once, then reuse it.

    The ``.pub`` file next to it is (re)written when missing. Safe when several processes race:
    the first key written wins and every caller gets that one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        key = asyncssh.generate_private_key("ssh-ed25519", comment="inkasso-simulator")
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(key.export_private_key("openssh"))
            os.chmod(tmp, 0o600)
            try:
                os.link(tmp, path)  # fails if another process got there first: keep theirs
            except FileExistsError:
                pass
        finally:
            os.unlink(tmp)
    try:
        key = asyncssh.read_private_key(path)
    except (asyncssh.KeyImportError, OSError) as exc:
        raise ValueError(f"cannot read SSH private key {path}: {exc}") from exc
    public_line = _public_line(key)
    public_path = path.with_name(path.name + ".pub")
    if not public_path.exists() or public_path.read_text().split()[:2] != public_line.split():
        public_path.write_text(public_line + "\n")
    return KeyPair(private_path=path, public_path=public_path, public_line=public_line)


def sftp_connection_uri_json(
    host: str, port: int, login: str, key_file: str | Path, host_key: str
) -> str:
    """The JSON form of an Airflow ``sftp`` connection with a pinned host key.

    Usable as the value of an ``AIRFLOW_CONN_<ID>`` environment variable. ``host_key`` is the
    server's ``ssh-ed25519 AAAA...`` line; password auth and agent/default keys are not used.
    """
    return json.dumps(
        {
            "conn_type": "sftp",
            "host": host,
            "port": int(port),
            "login": login,
            "extra": {
                "key_file": str(key_file),
                "host_key": " ".join(host_key.split()[:2]),
                "look_for_keys": "false",
            },
        }
    )
