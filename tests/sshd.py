"""A real OpenSSH sshd on 127.0.0.1 for end-to-end tests: installed when missing, started, removed.

Needs root (CI runs as root): sshd must chroot, accounts must be system users, and the package
may have to be installed. Nothing is skipped silently: without root, or when the install fails,
a clear ``OpenSshUnavailable`` error is raised.

Layout of one server, under ``/var/lib/inkasso-test-sshd/<random>/`` (root-owned, since sshd
refuses a ChrootDirectory under a path anyone else can write to, such as /tmp)::

    etc/sshd_config, etc/host_key(.pub), etc/authorized_keys/<user>, etc/sshd.log
    home/<user>/                root-owned chroot of the account
    home/<user>/<folder>/       owned by the account (inbox, outbox, outbox/processed)
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from inkasso_demo.simulator.keys import ensure_keypair

SSHD = Path("/usr/sbin/sshd")
DEFAULT_BASE_DIR = Path("/var/lib/inkasso-test-sshd")
DEFAULT_FOLDERS = ("inbox", "outbox", "outbox/processed")
PRIVSEP_DIR = Path("/run/sshd")
_USERNAME = re.compile(r"^[a-z_][a-z0-9_-]{0,31}$")


class OpenSshUnavailable(RuntimeError):
    """OpenSSH's sshd cannot be installed or started here; the message says why."""


def _run(args: list[str], what: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure raises OpenSshUnavailable with its output."""
    result = subprocess.run(
        args, capture_output=True, text=True, env={**os.environ, **env}, check=False
    )
    if result.returncode != 0:
        output = (result.stdout + result.stderr).strip()[-2000:]
        raise OpenSshUnavailable(
            f"{what} failed ({' '.join(args)}, exit {result.returncode}):\n{output}"
        )
    return result


def ensure_openssh_installed() -> Path:
    """Return the path of sshd, installing ``openssh-server`` with apt-get first when missing.

    Raises OpenSshUnavailable when not root or when apt-get fails (after one ``apt-get update``).
    """
    if SSHD.exists():
        return SSHD
    if os.geteuid() != 0:
        raise OpenSshUnavailable(
            f"{SSHD} is missing and only root can install it: run "
            "`apt-get install -y openssh-server` or run the tests as root (as CI does)"
        )
    if shutil.which("apt-get") is None:
        raise OpenSshUnavailable(f"{SSHD} is missing and apt-get is not available to install it")
    env = {"DEBIAN_FRONTEND": "noninteractive"}
    wait_for_lock = ["-o", "DPkg::Lock::Timeout=300"]  # another apt-get may be running
    install = ["apt-get", *wait_for_lock, "install", "-y", "-q", "--no-install-recommends"]
    install.append("openssh-server")
    try:
        _run(install, "installing openssh-server", **env)
    except OpenSshUnavailable:  # a fresh machine may have no package lists yet
        _run(["apt-get", *wait_for_lock, "update", "-q"], "apt-get update", **env)
        _run(install, "installing openssh-server", **env)
    if not SSHD.exists():
        raise OpenSshUnavailable(f"openssh-server was installed but {SSHD} is still missing")
    return SSHD


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


def _banner(host: str, port: int) -> bytes:
    """The first bytes the server sends, or b'' if it does not answer yet."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as sock:
            return sock.recv(64)
    except OSError:
        return b""


class OpenSshServer:
    """OpenSSH sshd serving SFTP only, one chrooted key-only account per entry of ``accounts``.

    ``accounts`` maps a system user name to its authorized public key line. Users that do not
    exist are created (``useradd``, no login shell, password ``*``) and deleted again on stop;
    existing users are used as they are and kept. ``home_of(user)`` is the account's chroot on
    the local disk, so a test can look at what a client wrote. Use as a context manager.
    """

    def __init__(
        self,
        base_dir: Path | str = DEFAULT_BASE_DIR,
        accounts: Mapping[str, str] | None = None,
        *,
        host: str = "127.0.0.1",
        folders: Iterable[str] = DEFAULT_FOLDERS,
        start_timeout: float = 15.0,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        if self.base_dir.is_relative_to(tempfile.gettempdir()) or self.base_dir.is_relative_to(
            "/tmp"
        ):
            raise ValueError(
                f"sshd refuses a ChrootDirectory under {self.base_dir}: a world-writable parent "
                "(the temp folder) is not allowed; use a root-owned folder such as /var/lib/…"
            )
        self.accounts = dict(accounts or {})
        for user in self.accounts:
            if not _USERNAME.match(user) or user == "root":
                raise ValueError(f"invalid account name {user!r} for the test sshd")
        self.host = host
        self.folders = tuple(folders)
        self.start_timeout = start_timeout
        self.port = 0
        self.dir: Path | None = None
        self.host_key_line = ""
        self.startup_seconds = 0.0  # how long start() took, for the curious
        self._created_users: list[str] = []
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: Any = None

    # -- paths ------------------------------------------------------------------------------
    def _require_dir(self) -> Path:
        if self.dir is None:
            raise RuntimeError("the test sshd is not started")
        return self.dir

    @property
    def config_path(self) -> Path:
        """The sshd_config in use."""
        return self._require_dir() / "etc" / "sshd_config"

    @property
    def log_path(self) -> Path:
        """sshd's own log (``-e``: what it writes to stderr)."""
        return self._require_dir() / "etc" / "sshd.log"

    def home_of(self, user: str) -> Path:
        """The account's chroot folder on the local disk."""
        return self._require_dir() / "home" / user

    def log_text(self) -> str:
        """The sshd log so far (for failure messages)."""
        try:
            return self.log_path.read_text(errors="replace")
        except (OSError, RuntimeError):
            return ""

    # -- set-up -----------------------------------------------------------------------------
    def _add_user(self, user: str) -> pwd.struct_passwd:
        try:
            return pwd.getpwnam(user)
        except KeyError:
            pass
        args = ["useradd", "--system", "--user-group", "-M", "-d", "/", "-s", "/usr/sbin/nologin"]
        args += ["-p", "*", "-c", "inkasso test sshd", user]  # '*': no password, not locked
        for attempt in range(5):  # /etc/passwd may be locked by a parallel useradd
            try:
                _run(args, f"creating the system user {user!r}")
                break
            except OpenSshUnavailable:
                if attempt == 4:
                    raise
                time.sleep(0.2 * (attempt + 1))
        self._created_users.append(user)
        return pwd.getpwnam(user)

    def _write_config(self, etc: Path, home: Path, host_key: Path) -> None:
        users = " ".join(self.accounts)
        lines = [
            f"ListenAddress {self.host}:{self.port}",
            f"HostKey {host_key}",
            "PidFile none",
            "UsePAM no",
            "UseDNS no",
            "StrictModes yes",
            "PermitRootLogin no",
            f"AllowUsers {users}",
            "PubkeyAuthentication yes",
            "AuthenticationMethods publickey",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            f"AuthorizedKeysFile {etc}/authorized_keys/%u",
            "AllowTcpForwarding no",
            "AllowAgentForwarding no",
            "X11Forwarding no",
            "PermitTTY no",
            "PrintMotd no",
            "LogLevel VERBOSE",
            "Subsystem sftp internal-sftp",
            "ForceCommand internal-sftp",
            f"ChrootDirectory {home}/%u",
        ]
        (etc / "sshd_config").write_text("\n".join(lines) + "\n")

    def _prepare(self) -> None:
        """Directories, host key, users, authorized keys and chroots; no process yet."""
        self.base_dir.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chmod(self.base_dir, 0o755)
        self.dir = Path(tempfile.mkdtemp(prefix="sshd-", dir=self.base_dir))
        os.chmod(self.dir, 0o755)
        etc, home = self.dir / "etc", self.dir / "home"
        (etc / "authorized_keys").mkdir(parents=True, mode=0o755)
        home.mkdir(mode=0o755)
        host_key = ensure_keypair(etc / "host_key")
        self.host_key_line = host_key.public_line
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        for user, public_line in self.accounts.items():
            account = self._add_user(user)
            (etc / "authorized_keys" / user).write_text(public_line.strip() + "\n")
            chroot = home / user
            chroot.mkdir(mode=0o755)
            for folder in self.folders:
                path = chroot / folder
                path.mkdir(parents=True, exist_ok=True)
                os.chown(path, account.pw_uid, account.pw_gid)

    def _launch(self) -> bool:
        """Start sshd on a fresh free port; False if the port was taken meanwhile."""
        dir_ = self._require_dir()
        self.port = _free_port(self.host)
        self._write_config(dir_ / "etc", dir_ / "home", dir_ / "etc" / "host_key")
        _run([str(SSHD), "-t", "-f", str(self.config_path)], "checking the sshd_config")
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self._proc = subprocess.Popen(
            [str(SSHD), "-D", "-e", "-f", str(self.config_path)],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                self._proc = None
                self._log.close()
                if "Address already in use" in self.log_text():
                    return False
                raise OpenSshUnavailable(f"sshd exited at start; its log:\n{self.log_text()}")
            if _banner(self.host, self.port).startswith(b"SSH-2.0-OpenSSH"):
                return True
            time.sleep(0.02)
        self._terminate()
        raise OpenSshUnavailable(
            f"sshd did not answer on {self.host}:{self.port} within {self.start_timeout} s; "
            f"its log:\n{self.log_text()}"
        )

    def start(self) -> int:
        """Install if needed, set up and start sshd; returns the port once it answers."""
        if self._proc is not None:
            return self.port
        started = time.monotonic()
        ensure_openssh_installed()
        if os.geteuid() != 0:
            raise OpenSshUnavailable("the test sshd needs root (chroot, system users)")
        if not self.accounts:
            raise ValueError("the test sshd needs at least one account")
        try:
            self._prepare()
            for _ in range(5):
                if self._launch():
                    break
            else:
                raise OpenSshUnavailable("no free port for sshd after 5 attempts")
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - started
        return self.port

    # -- tear-down --------------------------------------------------------------------------
    def _terminate(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            try:  # its own process group (clients' sessions end when they disconnect)
                os.killpg(proc.pid, 15)
            except ProcessLookupError:
                pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait(5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def stop(self) -> None:
        """Stop sshd, delete the users it created and remove its folder."""
        self._terminate()
        errors = []
        for user in reversed(self._created_users):
            result = subprocess.run(["userdel", "-f", user], capture_output=True, text=True)
            if result.returncode not in (0, 6):  # 6: already gone
                errors.append(f"userdel {user}: {result.stderr.strip()}")
        self._created_users.clear()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if errors:
            raise OpenSshUnavailable("cleaning up the test sshd: " + "; ".join(errors))

    def __enter__(self) -> OpenSshServer:
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()
