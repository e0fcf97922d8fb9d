"""``python -m inkasso_demo.simulator.stack`` (``make airflow``): the embedded default under a real Airflow.

Brings up, on ``$AIRFLOW_HOME``, with nothing done by hand:

* the demo world's services (``python -m inkasso_demo.simulator.serve``: agency SFTP simulator and
  SMTP sink on fixed ports; the demo ERP on first start; the connections file), the agency robot
  (``python -m inkasso_demo.simulator.robot``: answers files as they arrive) and the demo bank
  (``python -m inkasso_demo.simulator.bank_service``: a day's bank files once it has begun), both
  polling every ``INKASSO_DEMO_POLL_SECONDS`` (default 5);
* Airflow's metadata database (``airflow db migrate``), the ``sftp`` pool (SFTP sessions) and
  the ``erp_writer`` pool (dispatch's writers; one slot on the SQLite demo ERP);
* api-server, scheduler, dag-processor and triggerer as separate processes, with the
  LocalExecutor, ``parallelism`` 8, the connections read through the local-filesystem secrets
  backend by every component, and the demo DAG ``inkasso_demo_day`` (``INKASSO_DEMO_WORLD=1``);
  the DAGs are on (also those ``make demo`` registered paused), but the scheduler creates no
  runs by the clock (``use_job_schedule`` off):
  days are played by triggering ``inkasso_demo_day`` (or any DAG) for a logical date, or by
  ``airflow backfill create``.

Logs go to ``$AIRFLOW_HOME/logs/stack/<process>.log``. Ctrl-C (or SIGTERM) stops everything it
started. ``--services-only`` (``make services``) starts the demo world's services alone. Ports: ``AIRFLOW__API__PORT`` (default 8080), ``INKASSO_DEMO_SFTP_PORT`` (2222),
``INKASSO_DEMO_SMTP_PORT`` (2525). A metadata database other than the SQLite default:
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` (PostgreSQL for backfills with reprocessing).

With ``AIRFLOW__CORE__EXECUTOR=CeleryExecutor`` (the ``apache-airflow-providers-celery``
provider, a Redis broker in ``AIRFLOW__CELERY__BROKER_URL`` and PostgreSQL metadata) it also
starts an ``airflow celery worker`` (``INKASSO_CELERY_CONCURRENCY``, default 4), which runs every
task instead of the scheduler's local processes.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

from inkasso.config import PROJECT_ROOT
from inkasso_demo.simulator.serve import DEFAULT_SFTP_PORT, DEFAULT_SMTP_PORT, secrets_backend_env

COMPONENTS = ("scheduler", "dag-processor", "triggerer", "api-server")
# the demo world's pollers, started once the services have made the ERP: name, module
POLLERS = (
    ("agency-robot", "inkasso_demo.simulator.robot"),
    ("demo-bank", "inkasso_demo.simulator.bank_service"),
)
SFTP_POOL_SLOTS = 4
PASSWORDS_FILE = "simple_auth_manager_passwords.json.generated"


def stack_env(home: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    """The environment every process of the stack shares (defaults under what is set already)."""
    env = dict(os.environ if base is None else base)
    home = Path(home).resolve()
    port = env.get("AIRFLOW__API__PORT", "8080")
    defaults = {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(PROJECT_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(PROJECT_ROOT / "plugins"),
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
        "AIRFLOW__CORE__PARALLELISM": "8",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "False",
        # the demo's days are played by triggers and backfills of inkasso_demo_day, not by the
        # wall clock (which would run every DAG for today at once, out of the demo's story)
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__API__PORT": port,
        "AIRFLOW__API__HOST": "127.0.0.1",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
        "INKASSO_DEMO_WORLD": "1",
        "INKASSO_BASE": str(home / "inkasso-files"),
        "INKASSO_DEMO_SFTP_PORT": str(DEFAULT_SFTP_PORT),
        "INKASSO_DEMO_SMTP_PORT": str(DEFAULT_SMTP_PORT),
    }
    defaults |= secrets_backend_env(home)
    for key, value in defaults.items():
        env.setdefault(key, value)
    plugins = str(PROJECT_ROOT / "plugins")
    if plugins not in env.get("PYTHONPATH", "").split(os.pathsep):
        env["PYTHONPATH"] = os.pathsep.join(p for p in (plugins, env.get("PYTHONPATH")) if p)
    bindir = str(Path(sys.executable).parent)
    env["PATH"] = os.pathsep.join((bindir, env.get("PATH", "")))
    return env


def components(env: dict[str, str]) -> list[tuple[str, list[str]]]:
    """The Airflow processes to start: name and ``airflow`` arguments (a Celery worker too)."""
    out = [(name, [name]) for name in COMPONENTS]
    if env.get("AIRFLOW__CORE__EXECUTOR", "").endswith("CeleryExecutor"):
        worker = ["celery", "worker", "--concurrency", env.get("INKASSO_CELERY_CONCURRENCY", "4")]
        queue = env.get("AIRFLOW__OPERATORS__DEFAULT_QUEUE")
        if queue:
            worker += ["--queues", queue]
        out.append(("celery-worker", worker))
    return out


def erp_writer_slots(env: dict[str, str]) -> int:
    """Slots of the ``erp_writer`` pool: 1 on the SQLite demo ERP (one writer), else 4."""
    url = env.get("INKASSO_DEMO_ERP_URL") or "sqlite"
    return 1 if url.startswith("sqlite") else 4


def _wait_port(port: int, timeout: float, proc: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited ({proc.returncode}) before port {port} opened")
        with socket.socket() as s:
            s.settimeout(0.5)
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.3)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:.0f} s")


class Stack:
    """The processes of the embedded default under a real Airflow: ``start()`` / ``stop()``."""

    def __init__(self, home: Path, env: dict[str, str] | None = None):
        self.home = Path(home).resolve()
        self.env = stack_env(self.home, env)
        self.logs = self.home / "logs" / "stack"
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def api_url(self) -> str:
        """The API server's base URL."""
        return f"http://127.0.0.1:{self.env['AIRFLOW__API__PORT']}"

    def _run(self, *args: str) -> None:
        """Run one ``airflow`` command to its end; its output goes to the stack's log."""
        with open(self.logs / "setup.log", "ab") as log:
            subprocess.run(
                [str(Path(sys.executable).parent / "airflow"), *args],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                check=True,
            )

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen:
        log = open(self.logs / f"{name}.log", "ab")  # noqa: SIM115 - kept open for the child
        proc = subprocess.Popen(
            argv,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stop() ends its children too
        )
        self.procs[name] = proc
        return proc

    def start_services(self, timeout: float = 180) -> None:
        """Start the demo world's services (SFTP, SMTP, connections), the robot and the bank."""
        self.logs.mkdir(parents=True, exist_ok=True)
        services = self._spawn("services", [sys.executable, "-m", "inkasso_demo.simulator.serve"])
        _wait_port(int(self.env["INKASSO_DEMO_SFTP_PORT"]), timeout, services)
        _wait_port(int(self.env["INKASSO_DEMO_SMTP_PORT"]), 10, services)
        for name, module in POLLERS:
            self._spawn(name, [sys.executable, "-m", module])

    def prepare(self) -> None:
        """Airflow's metadata database, the pools, and the project's DAGs on (``airflow``
        commands run to their end).

        ``make demo`` runs the DAGs with ``dag.test``, which registers them under Airflow's
        default ``dags_are_paused_at_creation``: paused. On such a home every run that
        ``inkasso_demo_day`` triggers would stay queued; the clock starts no runs here
        (``use_job_schedule`` off), so turning the DAGs on is safe.
        """
        self.logs.mkdir(parents=True, exist_ok=True)
        self._run("db", "migrate")
        self._run(
            "pools", "set", "sftp", str(SFTP_POOL_SLOTS), "concurrent SFTP sessions to agencies"
        )
        self._run(
            "pools",
            "set",
            "erp_writer",
            str(erp_writer_slots(self.env)),
            "concurrent dispatch writers on the ERP database (1 on SQLite)",
        )
        self._run("dags", "unpause", "--treat-dag-id-as-regex", "--yes", "^inkasso_")

    def start(self, timeout: float = 180) -> Stack:
        """Start services and Airflow; returns when the API server answers."""
        self.logs.mkdir(parents=True, exist_ok=True)
        try:
            self.prepare()
            self.start_services(timeout)
            airflow = str(Path(sys.executable).parent / "airflow")
            for name, args in components(self.env):
                self._spawn(name, [airflow, *args])
            self.wait_healthy(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_healthy(self, timeout: float) -> None:
        """Wait until the API server reports a healthy metadatabase and scheduler."""
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(
                        f"{name} exited with {proc.returncode}; see {self.logs / (name + '.log')}"
                    )
            try:
                with urllib.request.urlopen(
                    f"{self.api_url}/api/v2/monitor/health", timeout=3
                ) as r:
                    health = json.load(r)
                if health["scheduler"]["status"] == "healthy":
                    return
                last = health
            except OSError as exc:
                last = exc
            time.sleep(1)
        raise TimeoutError(f"Airflow not healthy after {timeout:.0f} s: {last}")

    def password(self) -> str:
        """The generated password of ``admin`` (simple auth manager)."""
        data = json.loads((self.home / PASSWORDS_FILE).read_text())
        return data["admin"]

    def stop(self) -> None:
        """Stop every process this stack started (SIGTERM, then SIGKILL after 20 s)."""
        for name in reversed(list(self.procs)):
            proc = self.procs[name]
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs.values():
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait(5)
        self.procs.clear()


def main(argv: list[str] | None = None) -> int:
    """Bring the stack up, print how to log in, and keep it up until Ctrl-C."""
    services_only = "--services-only" in (sys.argv[1:] if argv is None else argv)
    home = Path(os.environ.get("AIRFLOW_HOME", ".airflow")).resolve()
    stack = Stack(home)
    what = "the demo world's services" if services_only else "services and Airflow"
    print(f"starting {what} on {home} (logs: {stack.logs}) ...", flush=True)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    if services_only:
        try:
            stack.start_services()
        except BaseException:
            stack.stop()
            raise
    else:
        stack.start()
        print(
            f"\nAirflow is up: {stack.api_url}  (user admin, password {stack.password()}, also "
            f"in {home / PASSWORDS_FILE})",
            flush=True,
        )
    print(
        f"agency SFTP simulator on 127.0.0.1:{stack.env['INKASSO_DEMO_SFTP_PORT']}, SMTP sink on "
        f"127.0.0.1:{stack.env['INKASSO_DEMO_SMTP_PORT']}; connections in "
        f"{home / 'inkasso-demo' / 'connections.json'}\nagency robot and demo bank polling every "
        f"{stack.env.get('INKASSO_DEMO_POLL_SECONDS', '5')} s (INKASSO_DEMO_POLL_SECONDS)\n"
        "Ctrl-C stops everything.",
        flush=True,
    )
    try:
        while not stop.wait(2):
            for name, proc in stack.procs.items():
                if proc.poll() is not None:
                    print(f"{name} exited ({proc.returncode}); see {stack.logs / name}.log")
                    stop.set()
    finally:
        print("stopping ...", flush=True)
        stack.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
