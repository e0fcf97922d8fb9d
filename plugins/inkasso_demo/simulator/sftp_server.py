"""An in-process SFTP server playing the agencies: one chrooted account per agreement.

asyncssh runs in its own event-loop thread, so the server can live inside a test or the demo
process next to synchronous Airflow code. Public-key auth only; each account sees only
``root/<username>/``.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import asyncssh

from inkasso_demo.simulator.keys import KeyPair, ensure_keypair

log = logging.getLogger(__name__)

DEFAULT_FOLDERS = ("inbox", "outbox", "outbox/processed")

UploadCallback = Callable[[str, Path], None]


class _Account:
    """One login: its authorized key and its chroot folder."""

    def __init__(self, username: str, public_line: str, home: Path) -> None:
        self.username = username
        self.keys = asyncssh.import_authorized_keys(public_line.strip() + "\n")
        self.home = home


class _ChrootSftp(asyncssh.SFTPServer):
    """SFTP session chrooted to the account's folder; reports finished uploads."""

    def __init__(self, chan: asyncssh.SSHServerChannel, owner: AgencySftpServer) -> None:
        self._username = chan.get_extra_info("username")
        self._owner = owner
        self._written: dict[int, Path] = {}
        super().__init__(chan, chroot=os.fsencode(owner.home_of(self._username)))

    def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        """Open a file; remember the ones opened for writing."""
        file_obj = super().open(path, pflags, attrs)
        if pflags & (asyncssh.FXF_WRITE | asyncssh.FXF_APPEND):
            self._written[id(file_obj)] = Path(os.fsdecode(self.map_path(path)))
        return file_obj

    def close(self, file_obj: object) -> None:
        """Close a file; a file that was written is reported to ``on_upload_closed``."""
        super().close(file_obj)
        local = self._written.pop(id(file_obj), None)
        if local is not None:
            self._owner.notify(self._username, local)

    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        """Rename over an existing file; the new name is reported to ``on_upload_closed``."""
        super().posix_rename(oldpath, newpath)
        self._renamed(newpath)

    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        """Rename (no overwrite); the new name is reported to ``on_upload_closed``."""
        super().rename(oldpath, newpath)
        self._renamed(newpath)

    def _renamed(self, newpath: bytes) -> None:
        local = Path(os.fsdecode(self.map_path(newpath)))
        if local.is_file():
            self._owner.notify(self._username, local)


class _SshServer(asyncssh.SSHServer):
    """Per-connection auth: public key of the named account, nothing else."""

    def __init__(self, owner: AgencySftpServer) -> None:
        self._owner = owner
        self._conn: asyncssh.SSHServerConnection | None = None

    def connection_made(self, conn: asyncssh.SSHServerConnection) -> None:
        self._conn = conn
        self._owner._connections.add(conn)
        self._owner.connections_accepted += 1

    def connection_lost(self, exc: Exception | None) -> None:
        if self._conn is not None:
            self._owner._connections.discard(self._conn)

    def begin_auth(self, username: str) -> bool:
        account = self._owner._accounts.get(username)
        if account is not None and self._conn is not None:
            self._conn.set_authorized_keys(account.keys)
        return True

    def password_auth_supported(self) -> bool:
        return False

    def kbdint_auth_supported(self) -> bool:
        return False

    def public_key_auth_supported(self) -> bool:
        return True


class AgencySftpServer:
    """An SFTP server in a background thread with one chrooted folder per account.

    ``accounts`` maps username to the authorized public key line (``ssh-ed25519 AAAA...``).
    Each account gets ``root/<username>/`` with ``folders`` created inside. ``on_upload_closed``
    is called (in the server thread; keep it quick) with the username and the local path when a
    client closes a file it wrote, and when a file is renamed (the path is the new name), since
    clients upload under a temporary name and rename it into place.
    """

    def __init__(
        self,
        root: Path,
        host_key_path: Path,
        accounts: Mapping[str, str],
        host: str = "127.0.0.1",
        port: int = 0,
        folders: Iterable[str] = DEFAULT_FOLDERS,
        on_upload_closed: UploadCallback | None = None,
    ) -> None:
        self.root = Path(root).resolve()
        self.host = host
        self.port = port
        self.folders = tuple(folders)
        self.on_upload_closed = on_upload_closed
        self.host_key: KeyPair = ensure_keypair(Path(host_key_path))
        self._accounts: dict[str, _Account] = {}
        self._connections: set[asyncssh.SSHServerConnection] = set()
        self.connections_accepted = 0  # SSH connections since creation (tests count them)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._acceptor: asyncssh.SSHAcceptor | None = None
        for username, public_line in accounts.items():
            self.add_account(username, public_line)

    @property
    def host_key_line(self) -> str:
        """The server's public host key (``ssh-ed25519 AAAA...``) to pin in a connection."""
        return self.host_key.public_line

    def home_of(self, username: str) -> Path:
        """The account's chroot folder on the local disk."""
        return self.root / username

    def add_account(self, username: str, public_line: str) -> Path:
        """Add (or re-key) an account, creating its folders; returns its chroot folder."""
        if not username or "/" in username or username in (".", ".."):
            raise ValueError(f"invalid SFTP account name {username!r}")
        home = self.home_of(username)
        for folder in ("", *self.folders):
            (home / folder).mkdir(parents=True, exist_ok=True)
        self._accounts[username] = _Account(username, public_line, home)
        return home

    def notify(self, username: str, path: Path) -> None:
        """Call ``on_upload_closed``; a failing callback is logged, never fails the client."""
        if self.on_upload_closed is None:
            return
        try:
            self.on_upload_closed(username, path)
        except Exception:
            log.exception("on_upload_closed failed for %s %s", username, path)

    def start(self) -> int:
        """Start listening (in a background thread); returns the bound port.

        After a ``stop()`` it listens again on the same port, so pinned connections still work.
        """
        if self._thread is not None:
            return self.port
        asyncssh_log = logging.getLogger("asyncssh")
        if asyncssh_log.level == logging.NOTSET:  # it logs every SFTP packet at INFO
            asyncssh_log.setLevel(logging.WARNING)
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        thread = threading.Thread(
            target=self._run_loop, args=(loop, ready), name="agency-sftp", daemon=True
        )
        thread.start()
        ready.wait()
        try:
            self._acceptor = asyncio.run_coroutine_threadsafe(self._listen(), loop).result(10)
        except BaseException:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(5)
            loop.close()
            raise
        self._loop, self._thread = loop, thread
        self.port = self._acceptor.get_port()
        log.info("agency SFTP server on %s:%s (root %s)", self.host, self.port, self.root)
        return self.port

    @staticmethod
    def _run_loop(loop: asyncio.AbstractEventLoop, ready: threading.Event) -> None:
        asyncio.set_event_loop(loop)
        loop.call_soon(ready.set)
        loop.run_forever()

    async def _listen(self) -> asyncssh.SSHAcceptor:
        return await asyncssh.listen(
            self.host,
            self.port,
            server_factory=lambda: _SshServer(self),
            server_host_keys=[str(self.host_key.private_path)],
            sftp_factory=lambda chan: _ChrootSftp(chan, self),
            allow_scp=False,
            reuse_address=True,
        )

    async def _close(self) -> None:
        if self._acceptor is not None:
            self._acceptor.close()
            await self._acceptor.wait_closed()
        for conn in list(self._connections):
            conn.close()
        for conn in list(self._connections):
            await conn.wait_closed()

    def stop(self) -> None:
        """Stop listening, drop open connections and end the server thread."""
        if self._loop is None or self._thread is None:
            return
        loop, thread = self._loop, self._thread
        try:
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(10)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
            loop.close()
            self._loop = self._thread = self._acceptor = None

    def __enter__(self) -> AgencySftpServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
