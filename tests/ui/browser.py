"""Real parts of the browser test: Debian's Chromium (installed when missing) and an
``airflow api-server`` subprocess on a free port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def ensure_chromium() -> Path:
    """Debian's chromium, installed with apt-get when missing (Playwright's download is not
    available here). A failure raises with apt-get's output: the test fails, never skips."""
    if CHROMIUM.exists():
        return CHROMIUM
    if os.geteuid() != 0:
        raise RuntimeError("chromium is missing and installing it needs root (apt-get)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "chromium"]
    result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0:  # stale package lists: update once and try again
        subprocess.run(["apt-get", "update"], capture_output=True, env=env, check=False)
        result = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if result.returncode != 0 or not CHROMIUM.exists():
        raise RuntimeError(
            f"apt-get install chromium failed:\n{result.stdout}{result.stderr}"[-3000:]
        )
    return CHROMIUM


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ApiServer:
    """``airflow api-server`` on 127.0.0.1:<port>, one worker, with the given environment."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        airflow = Path(sys.executable).with_name("airflow")
        self.env = {**os.environ, **env, "AIRFLOW__API__PORT": str(self.port)}
        self.env["AIRFLOW__API__BASE_URL"] = self.url
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(airflow),
                "api-server",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "-w",
                "1",
            ],
            env=self.env,
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ready(self, timeout: float = 90.0) -> None:
        """Wait until the server answers its health check; fail with its log otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if httpx.get(f"{self.url}/api/v2/monitor/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(
            f"airflow api-server did not start:\n{self.log_path.read_text()[-4000:]}"
        )

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL after 15 s)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self._log.close()


class airflow_cli_background:  # noqa: N801 - used like a function
    """Start an ``airflow`` command with ``env``; ``wait_ok()`` raises with its output if it failed."""

    def __init__(self, env: dict[str, str], log_path: Path, *args: str):
        airflow = Path(sys.executable).with_name("airflow")
        self.args, self.log_path = args, log_path
        self._log = open(log_path, "w")  # noqa: SIM115 - closed in wait_ok()
        self.process = subprocess.Popen(
            [str(airflow), *args],
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def wait_ok(self, timeout: float = 300.0) -> None:
        """Wait for the command; raise with its output when it failed."""
        code = self.process.wait(timeout)
        self._log.close()
        if code != 0:
            output = self.log_path.read_text()[-4000:]
            raise RuntimeError(f"airflow {' '.join(self.args)} failed ({code}):\n{output}")
