"""Where an agreement's receipts and closures come from: the agency's SFTP outbox, or the manual
inbox a person drops them into. The inbound flow (fetch, archive, log, apply, tidy) is the same for
both; only listing, reading and moving handled files away differ.

* ``SftpSource`` (mode ``sftp``): the profile's ``outbox_dir`` on the agreement's SFTP account;
  applied files move to the profile's ``processed_dir`` (none: the agency cleans up itself).
* ``InboxSource`` (mode ``manual``): ``<base>/manual_inbox/<agreement_id>/`` under the files base
  (an ``ObjectStoragePath``: a local folder or ``s3://…``); applied files move to its
  ``processed/`` subfolder, so what is left in the inbox is what a person still has to look at.

Each source names a file's location as ``prefix + name`` (the file log's ``remote_path``), so the
tidy step finds the applied files still lying in the source with one query.
"""

from __future__ import annotations

import hashlib
import logging
import posixpath
from typing import Protocol

from inkasso.formats import load_profile

log = logging.getLogger(__name__)

INBOX_DIR = "manual_inbox"
PROCESSED_DIR = "processed"


class Source(Protocol):
    """What the inbound flow needs from the place the agency's answers arrive."""

    mode: str  # the fetch summary's mode when the source was read: ``remote`` or ``inbox``
    prefix: str  # location of a listed file = prefix + name
    processed_prefix: str | None  # location after ``move``; None: files are never moved

    def list_names(self) -> list[str]:
        """Names of the regular, non-hidden files now in the source."""

    def read(self, names: list[str]) -> dict[str, bytes]:
        """The bytes of the named files."""

    def move(self, names: list[str]) -> list[str]:
        """Move handled files out of the source; returns those moved (repeat-safe)."""


class SftpSource:
    """The agency's outbox on the agreement's SFTP account (automated agreements)."""

    mode = "remote"

    def __init__(self, agreement) -> None:
        remote = load_profile(agreement.agency).remote
        self.conn_id = agreement.sftp_conn_id
        self.outbox = remote.outbox_dir
        self.processed_dir = remote.processed_dir
        self.prefix = self.outbox.rstrip("/") + "/"
        self.processed_prefix = self.processed_dir.rstrip("/") + "/" if self.processed_dir else None

    def __str__(self) -> str:
        return f"{self.outbox} on {self.conn_id}"

    def list_names(self) -> list[str]:
        """One SFTP connection: the outbox's file names."""
        from inkasso.transport import list_remote

        return [f.name for f in list_remote(self.conn_id, self.outbox)]

    def read(self, names: list[str]) -> dict[str, bytes]:
        """One SFTP connection: download the named files (a file another run moved away since
        the listing is left out)."""
        from inkasso.transport import download

        return download(self.conn_id, self.outbox, names, missing_ok=True)

    def move(self, names: list[str]) -> list[str]:
        """One SFTP connection: rename each file still in the outbox into the processed folder."""
        from inkasso.transport import _rename_unless_moved, _sftp, _stat_or_none

        if not self.processed_dir or not names:
            return []
        moved = []
        with _sftp(self.conn_id, f"moving files to {self.processed_dir}", 3) as (client, session):
            for name in names:
                src = posixpath.join(self.outbox, name)
                dst = posixpath.join(self.processed_dir, name)
                session.step = f"moving {src} to {dst}"
                # posix-rename, or a plain rename without it; a run beside this one may move it
                if _stat_or_none(client, src) is not None and _rename_unless_moved(
                    client, src, dst
                ):
                    moved.append(name)
        return moved


class InboxSource:
    """``<base>/manual_inbox/<agreement_id>/``: files a person saved from the agency (manual)."""

    mode = "inbox"

    def __init__(self, agreement, base) -> None:
        self.folder = base / INBOX_DIR / agreement.agreement_id
        self.processed = self.folder / PROCESSED_DIR
        self.prefix = str(self.folder).rstrip("/") + "/"
        self.processed_prefix = str(self.processed).rstrip("/") + "/"

    def __str__(self) -> str:
        return str(self.folder)

    def list_names(self) -> list[str]:
        """The inbox's files; the folder is made when missing, so a person sees where to drop."""
        self.folder.mkdir(parents=True, exist_ok=True)
        # hidden names are files still being written (``.name.part``) or the system's own
        return sorted(
            p.name for p in self.folder.iterdir() if p.is_file() and not p.name.startswith(".")
        )

    def read(self, names: list[str]) -> dict[str, bytes]:
        """The bytes of the named files in the inbox (one moved away since the listing: left out)."""
        return {
            name: (self.folder / name).read_bytes()
            for name in names
            if (self.folder / name).is_file()
        }

    def move(self, names: list[str]) -> list[str]:
        """Move each file still in the inbox into ``processed/``, never overwriting another file.

        The same bytes already in ``processed/`` (a file dropped twice): the inbox copy is removed.
        Other bytes under that name get a checksum prefix, as in the inbound archive.
        """
        moved = []
        for name in names:
            src = self.folder / name
            if not src.exists():
                continue
            dst = self.processed / name
            if dst.exists():
                data = src.read_bytes()
                if dst.read_bytes() == data:
                    src.unlink()
                    moved.append(name)
                    continue
                dst = self.processed / f"{hashlib.sha256(data).hexdigest()[:12]}_{name}"
            self.processed.mkdir(parents=True, exist_ok=True)
            src.rename(dst)
            moved.append(name)
        return moved


def source_for(agreement, base) -> Source:
    """The source of the agreement's answers: its manual inbox or its agency's SFTP outbox."""
    if getattr(agreement, "mode", "sftp") == "manual":
        return InboxSource(agreement, base)
    return SftpSource(agreement)
