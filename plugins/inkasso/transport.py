"""Delivery of files at rest to an agency (SFTP or the manual-export outbox), and fetching back.

Exactly once: a file is uploaded under a hidden temporary name (``.<name>.part``), read back
and its sha256 compared with the file log, then it is renamed into place. A file already present
under its final name is read back too: with the same sha256 it counts as delivered and is never
uploaded again, so a retry after a broken attempt finishes the job without a duplicate; with
other bytes (even of the same size) it is never overwritten and never called delivered
(``RemoteMismatchError``, naming agreement, file and both checksums). Every failure raises
``TransportError`` naming the connection, the host and the file.

SFTP goes through Airflow's ``SFTPHook`` (one SSH connection per call) over a TCP socket of our
own with Nagle's algorithm off; files at rest are ``airflow.sdk.ObjectStoragePath`` objects, read
and written through the path object.
"""

from __future__ import annotations

import errno
import hashlib
import io
import logging
import posixpath
import random
import socket
import stat
import time
from collections.abc import Generator, Iterable
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow.sdk import ObjectStoragePath
    from paramiko import SFTPAttributes, SFTPClient

log = logging.getLogger(__name__)

DELIVERED = "delivered"
ALREADY_DELIVERED = "already_delivered"
DEFAULT_CONNECT_ATTEMPTS = 3  # SSHHook's own default; each retry waits 3-5 s
RETRY_WAIT_SECONDS = (3.0, 5.0)  # between connection attempts, as SSHHook waits


class TransportError(RuntimeError):
    """A delivery or fetch failed; the message names connection, host and file."""


class RemoteMismatchError(TransportError):
    """The agency holds other bytes under the file's final name: not delivered, not overwritten."""


_READ_CHUNK = 1 << 20


@dataclass(frozen=True)
class Delivery:
    """One file at rest to put on the agency's server as ``remote_dir/remote_name``."""

    source: ObjectStoragePath
    remote_dir: str
    remote_name: str
    size: int
    sha256: str
    agreement_id: str = ""  # named in errors

    @property
    def remote_path(self) -> str:
        """The final path on the server."""
        return posixpath.join(self.remote_dir, self.remote_name)


@dataclass(frozen=True)
class DeliveryResult:
    """What happened to one file: ``delivered`` now, or ``already_delivered`` earlier."""

    source: str
    remote_path: str
    outcome: str  # DELIVERED or ALREADY_DELIVERED
    size: int
    sha256: str

    def as_dict(self) -> dict[str, Any]:
        """Plain dict, fit for XCom and the file log."""
        return asdict(self)


@dataclass(frozen=True)
class RemoteFile:
    """A regular file in a remote folder."""

    name: str
    size: int
    mtime: datetime  # UTC


class _Session:
    """Where an SFTP call is, for error messages."""

    def __init__(self, conn_id: str, step: str) -> None:
        self.conn_id = conn_id
        self.host = "host unknown"
        self.step = step

    def error(self, message: str, kind: type[TransportError] = TransportError) -> TransportError:
        """A TransportError (or subclass ``kind``) prefixed with the connection and host."""
        return kind(f"SFTP connection {self.conn_id!r} ({self.host}): {message}")


def _nodelay_socket(hook) -> socket.socket | None:
    """A TCP connection to the hook's host with Nagle's algorithm off (None: a proxy command).

    Paramiko's own socket keeps Nagle on, so the SSH handshake's small back-to-back packets wait
    for the server's delayed ACK (40 ms on Linux) several times: about 90 ms a connection to
    the demo's agency on this machine, 7 ms without.
    """
    if hook.host_proxy_cmd:
        return None
    sock = socket.create_connection((hook.remote_host, hook.port), timeout=hook.conn_timeout)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _connect(hook, attempts: int, stack: ExitStack) -> SFTPClient:
    """Enter ``hook.get_managed_conn()`` in ``stack`` on a fresh socket per attempt, retrying
    like SSHHook (``attempts`` in all, 3-5 s apart); the last failure is raised."""
    for attempt in range(1, attempts + 1):
        sock = None
        try:
            sock = _nodelay_socket(hook)
            if sock is not None:
                hook.host_proxy = sock  # paramiko's ``sock``; SFTPHook drops it on close
            return stack.enter_context(hook.get_managed_conn())
        except Exception:
            if sock is not None:
                sock.close()
            if attempt >= attempts:
                raise
            log.info("Failed to connect. Sleeping before retry attempt %d", attempt)
            time.sleep(random.uniform(*RETRY_WAIT_SECONDS))  # noqa: S311 (a wait, not a secret)
    raise ValueError(f"connect_attempts must be at least 1, not {attempts}")


@contextmanager
def _sftp(
    conn_id: str, step: str, connect_attempts: int
) -> Generator[tuple[SFTPClient, _Session], None, None]:
    """One SSH/SFTP connection through SFTPHook; any failure becomes a TransportError."""
    from airflow.providers.sftp.hooks.sftp import SFTPHook

    session = _Session(conn_id, step)
    try:
        hook = SFTPHook(ssh_conn_id=conn_id, conn_retry_attempts=1)  # retries: _connect's
        session.host = f"{hook.remote_host}:{hook.port}"
        with ExitStack() as stack:
            yield _connect(hook, connect_attempts, stack), session
    except TransportError:
        raise
    except Exception as exc:
        raise session.error(f"{session.step} failed: {type(exc).__name__}: {exc}") from exc


def _stat_or_none(client: SFTPClient, path: str) -> SFTPAttributes | None:
    try:
        return client.stat(path)
    except FileNotFoundError:
        return None


def _remote_sha256(client: SFTPClient, path: str) -> str:
    """The sha256 of a remote file, read back in chunks (SFTP servers rarely offer a checksum)."""
    digest = hashlib.sha256()
    with client.open(path, "rb") as remote:
        remote.prefetch()
        while chunk := remote.read(_READ_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _rename(client: SFTPClient, src: str, dst: str) -> None:
    """Rename on the server: the OpenSSH ``posix-rename`` extension, else a plain SFTP rename.

    A server without the extension answers "operation unsupported" (an OSError without an
    errno); the plain rename then does the same job (it refuses an existing target, which is
    what delivery wants anyway). Any other failure is re-raised as it is.
    """
    try:
        client.posix_rename(src, dst)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.EACCES):
            raise
        log.info("posix_rename %s -> %s failed (%s); trying a plain rename", src, dst, exc)
        try:
            client.rename(src, dst)
        except OSError:
            raise exc from None


def _rename_unless_moved(client: SFTPClient, src: str, dst: str) -> bool:
    """Rename ``src`` to ``dst``; False when another run moved it first (``src`` gone, ``dst``
    there), which is what two overlapping inbound runs tidying the same outbox see."""
    try:
        _rename(client, src, dst)
    except OSError:
        if _stat_or_none(client, src) is None and _stat_or_none(client, dst) is not None:
            log.info("%s was moved to %s by another run meanwhile", src, dst)
            return False
        raise
    return True


def _read_checked(session: _Session, delivery: Delivery) -> bytes:
    """The source bytes, checked against the size and sha256 recorded when it was written."""
    session.step = f"reading {delivery.source}"
    data = delivery.source.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if len(data) != delivery.size or digest != delivery.sha256.lower():
        raise session.error(
            f"file at rest {delivery.source} changed since it was written: expected "
            f"{delivery.size} bytes sha256 {delivery.sha256}, found {len(data)} bytes sha256 {digest}"
        )
    return data


def _deliver_one(client: SFTPClient, session: _Session, delivery: Delivery) -> DeliveryResult:
    final = delivery.remote_path
    part = posixpath.join(delivery.remote_dir, f".{delivery.remote_name}.part")

    def result(outcome: str) -> DeliveryResult:
        return DeliveryResult(str(delivery.source), final, outcome, delivery.size, delivery.sha256)

    session.step = f"checking {final} for {delivery.source}"
    existing = _stat_or_none(client, final)
    if existing is not None:
        # by content, not size: another file of the same size is not this delivery
        session.step = f"reading back {final} for {delivery.source}"
        remote_sha = _remote_sha256(client, final)
        if remote_sha == delivery.sha256.lower():
            log.info("%s already delivered as %s (sha256 %s)", delivery.source, final, remote_sha)
            return result(ALREADY_DELIVERED)
        who = f"agreement {delivery.agreement_id}: " if delivery.agreement_id else ""
        raise session.error(
            f"{who}{final} already exists on the agency's server with other bytes "
            f"({existing.st_size} bytes, sha256 {remote_sha}) than {delivery.source} "
            f"({delivery.size} bytes, sha256 {delivery.sha256} in the file log); "
            "refusing to overwrite a file the agency may have read, not delivered",
            RemoteMismatchError,
        )
    folder = _stat_or_none(client, delivery.remote_dir or ".")
    if folder is None or not stat.S_ISDIR(folder.st_mode or 0):
        raise session.error(
            f"remote folder {delivery.remote_dir!r} does not exist (delivering {delivery.source})"
        )
    data = _read_checked(session, delivery)
    session.step = f"uploading {delivery.source} to {part}"
    client.putfo(io.BytesIO(data), part, file_size=len(data), confirm=False)
    session.step = f"reading back {part}"
    uploaded = _remote_sha256(client, part)
    if uploaded != delivery.sha256.lower():
        raise session.error(
            f"checksum failed for {delivery.source}: {part} on the server has sha256 {uploaded}, "
            f"expected {delivery.sha256}; left under the temporary name"
        )
    session.step = f"renaming {part} to {final}"
    _rename(client, part, final)
    log.info("delivered %s as %s (%s bytes)", delivery.source, final, delivery.size)
    return result(DELIVERED)


def deliver_sftp(
    conn_id: str,
    files: Iterable[Delivery],
    *,
    connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS,
) -> list[DeliveryResult]:
    """Deliver files to the agency over one SFTP connection, each exactly once.

    Per file: already there with the same sha256 → ``already_delivered``; there with other bytes
    → ``RemoteMismatchError``; else upload to ``.<name>.part`` (replacing a stale one), read it
    back and check its sha256, rename into place → ``delivered``.
    Stops at the first failure with a TransportError; files before it stay delivered.
    """
    files = list(files)
    if not files:
        return []
    names = ", ".join(str(d.source) for d in files)
    with _sftp(conn_id, f"connecting to deliver {names}", connect_attempts) as (client, session):
        return [_deliver_one(client, session, delivery) for delivery in files]


def deliver_manual(
    source: ObjectStoragePath, outbox_dir: ObjectStoragePath, name: str | None = None
) -> ObjectStoragePath:
    """Copy a file into the manual-export outbox (for a person to send); returns the copy.

    Exactly once: a file of the same name and bytes (sha256) already there is left as it is;
    other bytes under that name are never overwritten (``RemoteMismatchError``).
    """
    dest = outbox_dir / (name or source.name)
    try:
        data = source.read_bytes()
        if dest.exists():
            there = hashlib.sha256(dest.read_bytes()).hexdigest()
            ours = hashlib.sha256(data).hexdigest()
            if there == ours:
                log.info("%s already in the manual-export outbox as %s", source, dest)
                return dest
            raise RemoteMismatchError(
                f"manual export of {source}: {dest} already exists with other bytes "
                f"(sha256 {there}, the file has sha256 {ours}); refusing to overwrite"
            )
        outbox_dir.mkdir(parents=True, exist_ok=True)
        part = outbox_dir / f".{dest.name}.part"
        part.write_bytes(data)
        part.rename(dest)
    except TransportError:
        raise
    except Exception as exc:
        raise TransportError(
            f"manual export of {source} to {dest} failed: {type(exc).__name__}: {exc}"
        ) from exc
    log.info("wrote %s to the manual-export outbox as %s", source, dest)
    return dest


def list_remote(
    conn_id: str,
    remote_dir: str,
    *,
    include_hidden: bool = False,
    connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS,
) -> list[RemoteFile]:
    """The regular files in a remote folder, by name; hidden (``.``) files only if asked."""
    with _sftp(conn_id, f"listing {remote_dir!r}", connect_attempts) as (client, _):
        entries = client.listdir_attr(remote_dir)
    return sorted(
        (
            RemoteFile(
                name=entry.filename,
                size=entry.st_size or 0,
                mtime=datetime.fromtimestamp(entry.st_mtime or 0, tz=UTC),
            )
            for entry in entries
            if stat.S_ISREG(entry.st_mode or 0)
            and (include_hidden or not entry.filename.startswith("."))
        ),
        key=lambda f: f.name,
    )


def download(
    conn_id: str,
    remote_dir: str,
    names: Iterable[str],
    *,
    connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS,
    missing_ok: bool = False,
) -> dict[str, bytes]:
    """The bytes of the named files in a remote folder, over one connection.

    ``missing_ok``: a file gone since it was listed (another run moved it away) is left out of
    the result instead of failing the download.
    """
    names = list(names)
    out: dict[str, bytes] = {}
    if not names:
        return out
    with _sftp(conn_id, f"connecting to download from {remote_dir!r}", connect_attempts) as (
        client,
        session,
    ):
        for name in names:
            path = posixpath.join(remote_dir, name)
            session.step = f"downloading {path}"
            buffer = io.BytesIO()
            try:
                client.getfo(path, buffer)
            except FileNotFoundError:
                if not missing_ok:
                    raise
                log.info("%s: gone since it was listed; left out", path)
                continue
            out[name] = buffer.getvalue()
    return out


def move_remote(
    conn_id: str, src: str, dst: str, *, connect_attempts: int = DEFAULT_CONNECT_ATTEMPTS
) -> bool:
    """Move a remote file (e.g. into the processed folder); False if it was already moved.

    Safe to repeat: ``src`` gone and ``dst`` present means an earlier call did it.
    """
    with _sftp(conn_id, f"moving {src} to {dst}", connect_attempts) as (client, session):
        if _stat_or_none(client, src) is None:
            if _stat_or_none(client, dst) is not None:
                return False
            raise session.error(f"cannot move {src} to {dst}: {src} does not exist")
        return _rename_unless_moved(client, src, dst)
