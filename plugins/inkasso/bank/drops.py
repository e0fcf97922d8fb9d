"""Where each client's bank payment files arrive: a folder (any ObjectStoragePath) or SFTP.

Configured in the Airflow Variable ``inkasso_bank_drops`` (JSON), keyed by client id::

    {"1": {"folder": "s3://bank/nordlys/"},
     "4": {"sftp_conn_id": "bank_sftp_gota", "dir": "/outgoing/bgmax",
           "accounts": ["5050-1055"]}}

A client without an entry uses the demo default, the folder ``<files_base>/bank/<client_id>/``.
``accounts`` (optional) lists the accounts or bankgiro numbers the client also receives money
on, beside its default bank account and its agreements' payback accounts: a file paid into any
other account is quarantined (`inkasso.bank.importer`).
Files are left in the drop: the file log (by SHA-256) makes sure each is booked once. A file whose
name and size are logged is not fetched again, unless its modification time differs from the one
recorded when it was read: a bank reusing a name replaces the file, often with one of the same
size (fixed-width records).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

VARIABLE = "inkasso_bank_drops"


@dataclass(frozen=True)
class BankDrop:
    """One client's drop: a folder URL, or an SFTP connection and remote folder."""

    client_id: int
    folder: str | None = None
    sftp_conn_id: str | None = None
    dir: str = "/"
    accounts: tuple[str, ...] = ()  # more accounts the client receives on (module doc)

    def describe(self) -> str:
        """Where the drop is, for logs."""
        return self.folder or f"sftp://{self.sftp_conn_id}{self.dir}"


def parse_drops(config: dict | str | None, client_ids: list[int], base) -> list[BankDrop]:
    """The drops of ``client_ids`` from the Variable's value (JSON text or dict); folder default."""
    if isinstance(config, str):
        config = json.loads(config) if config.strip() else {}
    config = {str(k): v for k, v in (config or {}).items()}
    drops = []
    for client_id in client_ids:
        entry = config.get(str(client_id))
        if entry is None:
            drops.append(BankDrop(client_id, folder=str(base / "bank" / str(client_id))))
            continue
        accounts = entry.get("accounts") or []
        if not isinstance(accounts, list) or not all(isinstance(a, str) for a in accounts):
            raise ValueError(
                f"{VARIABLE}: client {client_id}: 'accounts' must be a list of account numbers"
                f" as text, got {accounts!r}"
            )
        if entry.get("folder"):
            drops.append(BankDrop(client_id, folder=str(entry["folder"]), accounts=tuple(accounts)))
        elif entry.get("sftp_conn_id"):
            drops.append(
                BankDrop(
                    client_id,
                    sftp_conn_id=entry["sftp_conn_id"],
                    dir=entry.get("dir", "/"),
                    accounts=tuple(accounts),
                )
            )
        else:
            raise ValueError(
                f"{VARIABLE}: client {client_id} needs 'folder' or 'sftp_conn_id', got {entry!r}"
            )
    return drops


def list_drop(drop: BankDrop) -> dict[str, tuple[int, datetime | None]]:
    """The files waiting in the drop: name -> (size in bytes, modified at or None when the store
    does not say); hidden files left out."""
    if drop.folder:
        from airflow.sdk import ObjectStoragePath

        folder = ObjectStoragePath(drop.folder)
        if not folder.exists():
            return {}
        return {
            p.name: _size_and_time(p.stat())
            for p in sorted(folder.iterdir(), key=lambda p: p.name)
            if p.is_file() and not p.name.startswith(".")
        }
    from inkasso.transport import list_remote

    return {
        f.name: (f.size, f.mtime if f.mtime.timestamp() > 0 else None)
        for f in list_remote(drop.sftp_conn_id, drop.dir)
    }


def _size_and_time(info) -> tuple[int, datetime | None]:
    """Size and modification time of a file's ``stat()``; stores give the time as a POSIX
    timestamp or a datetime, some not at all (0: unknown)."""
    mtime = getattr(info, "st_mtime", None)
    if isinstance(mtime, datetime):
        return info.st_size, mtime if mtime.tzinfo else mtime.replace(tzinfo=UTC)
    if isinstance(mtime, int | float) and mtime > 0:
        return info.st_size, datetime.fromtimestamp(mtime, UTC)
    return info.st_size, None


def iter_drop(drop: BankDrop, names: list[str]) -> Iterator[tuple[str, Path | bytes | None]]:
    """The named files of the drop one at a time: (name, local path), or (name, bytes) for SFTP.

    A local folder gives its files' own paths; another object store's file is streamed to a
    temporary file first (removed once the caller moves on), so no file is held in memory whole.
    A file gone since it was listed (the bank took it back) comes as (name, None), and the files
    after it still come (a local path may still vanish before it is opened: the caller checks).
    """
    if not names:
        return
    if not drop.folder:
        from inkasso.transport import download

        got = download(drop.sftp_conn_id, drop.dir, names, missing_ok=True)
        for name in names:
            yield name, got.get(name)
        return
    from airflow.sdk import ObjectStoragePath

    folder = ObjectStoragePath(drop.folder)
    for name in names:
        remote = folder / name
        if remote.protocol in ("", "file", "local"):
            yield name, Path(remote.path)
            continue
        with tempfile.TemporaryDirectory(prefix="bank-drop-") as tmp:
            local = Path(tmp) / name
            try:
                with remote.open("rb") as src, open(local, "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
            except FileNotFoundError:
                yield name, None
                continue
            yield name, local
