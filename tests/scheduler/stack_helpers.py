"""The embedded default under a real Airflow, for the scheduler tests: what ``make airflow``
starts (``inkasso_demo.simulator.stack``: the demo world's services, then api-server, scheduler,
dag-processor and triggerer) on a fresh Airflow home with the metadata database in a fresh
PostgreSQL database (Airflow's SQLite locks under backfills), and a small REST API client.
"""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request

from tests.pg import drop_postgres, new_postgres_url

FLOWS = (
    "inkasso_bank_import",
    "inkasso_corrections",
    "inkasso_dispatch",
    "inkasso_inbound",
    "inkasso_report",
)


class Api:
    """A small REST client for Airflow's public API with a simple-auth-manager token."""

    def __init__(self, base: str, password: str):
        self.base = base
        self.token = self.call("POST", "/auth/token", {"username": "admin", "password": password})[
            "access_token"
        ]

    def call(self, method: str, path: str, body: dict | None = None) -> dict:
        """One request; a non-2xx answer raises with its body."""
        headers = {"Content-Type": "application/json"}
        if getattr(self, "token", None):
            headers["Authorization"] = f"Bearer {self.token}"
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                return json.load(resp)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()[:500]!r}") from exc

    def wait_run(self, dag_id: str, run_id: str, timeout: float) -> str:
        """Wait for a DAG run to end; returns its state."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            state = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}")["state"]
            if state in ("success", "failed"):
                return state
            time.sleep(5)
        raise AssertionError(f"{dag_id} {run_id} still not done after {timeout:.0f} s")

    def failed_tasks(self, dag_id: str, run_id: str) -> list[str]:
        """The task instances of a run that did not succeed (for a readable failure)."""
        tis = self.call("GET", f"/api/v2/dags/{dag_id}/dagRuns/{run_id}/taskInstances?limit=200")[
            "task_instances"
        ]
        return [
            f"{t['task_id']}[{t['map_index']}]: {t['state']}"
            for t in tis
            if t["state"] not in ("success", "skipped")
        ]


def running_stack(tmp_path_factory, env_for=None, **extra_env: str):
    """Generator: the stack on a fresh home and a fresh PostgreSQL metadata database, with
    ``extra_env`` and ``env_for(metadata_url)`` on top (for the other scheduler tests too)."""
    from inkasso_demo.simulator.mail_sink import free_port
    from inkasso_demo.simulator.stack import Stack

    home = tmp_path_factory.mktemp("airflow-home")
    meta_url = new_postgres_url()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("AIRFLOW", "INKASSO", "PYTHONPATH"))
    }
    env |= {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": meta_url,
        "AIRFLOW__API__PORT": str(free_port()),
        "INKASSO_DEMO_SFTP_PORT": str(free_port()),
        "INKASSO_DEMO_SMTP_PORT": str(free_port()),
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    } | extra_env
    if env_for is not None:
        env |= env_for(meta_url)
    running = Stack(home, env)
    try:
        running.start(timeout=300)
        yield running
    finally:
        running.stop()
        drop_postgres(meta_url)


def wait_for_dags(api: Api, wanted: set[str], timeout: float = 180) -> dict:
    """Wait for the dag-processor's first parse of ``wanted``; returns the DAGs by id."""
    deadline = time.monotonic() + timeout
    while True:
        dags = {d["dag_id"]: d for d in api.call("GET", "/api/v2/dags?limit=100")["dags"]}
        if wanted <= set(dags) or time.monotonic() > deadline:
            break
        time.sleep(3)
    assert wanted <= set(dags), sorted(dags)
    return dags
