"""``python -m inkasso_demo.demo``: the next day of the daily cycle on the embedded default.

First run: creates the demo ERP (SQLite, deterministic generator), the pipeline tables and the
agency simulator's keys. Every run: plays the ERP's activity of the day before, starts the
in-process SFTP agency simulator (one account per automated agreement, host keys pinned in the
Airflow connections), runs ``inkasso_dispatch`` through Airflow (``dag.test``) for the next
logical date, then prints what happened and reads every delivered file back through the
project's own reader to check it against the cases opened. A run that fails leaves the day
where it was, so running ``make demo`` again retries the same day.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import warnings
from datetime import date, datetime, time, timedelta
from pathlib import Path
from time import perf_counter

from inkasso.runs import BUSINESS_TZ

FIRST_DAY = date(2026, 11, 2)
DISPATCH_AT = time(5, 0)
SEED = 42


class DemoEnvironment:
    """Paths and Airflow connections of the demo, all under ``$AIRFLOW_HOME/inkasso-demo``."""

    def __init__(self, home: Path):
        self.home = home
        self.dir = home / "inkasso-demo"
        self.erp_path = self.dir / "erp.sqlite"
        self.keys = self.dir / "keys"
        # INKASSO_DEMO_SFTP_ROOT: the accounts' folders elsewhere (the compose SFTP container's)
        self.sftp_root = Path(os.environ.get("INKASSO_DEMO_SFTP_ROOT") or self.dir / "agency-sftp")
        self.state_file = self.dir / "state.json"
        # INKASSO_DEMO_ERP_URL puts the demo ERP elsewhere, e.g. an empty PostgreSQL database
        self.erp_url = os.environ.get("INKASSO_DEMO_ERP_URL") or f"sqlite:///{self.erp_path}"

    @classmethod
    def current(cls) -> DemoEnvironment:
        """The demo of this ``$AIRFLOW_HOME`` (``.airflow`` when unset)."""
        return cls(Path(os.environ.get("AIRFLOW_HOME", ".airflow")).resolve())

    def last_day(self) -> date | None:
        """The last day the demo completed, or None before the first run."""
        if not self.state_file.exists():
            return None
        return date.fromisoformat(json.loads(self.state_file.read_text())["last_day"])

    def save_day(self, day: date) -> None:
        """Remember ``day`` as done."""
        self.state_file.write_text(json.dumps({"last_day": day.isoformat()}))


def ensure_erp(env: DemoEnvironment) -> bool:
    """Create the demo ERP and the pipeline tables once; True when it was created now."""
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso_demo.erp.generator import create_demo_erp

    engine = engine_for_url(env.erp_url)
    upgrade(engine)
    if env.state_file.exists() or _has_clients(engine):
        return False
    counts = create_demo_erp(engine, seed=SEED, start_day=FIRST_DAY)
    print(f"demo ERP created at {env.erp_url}: {counts}")
    return True


def _has_clients(engine) -> bool:
    from sqlalchemy import inspect, text

    if "erp_client" not in inspect(engine).get_table_names():
        return False
    with engine.connect() as conn:
        return conn.execute(text("SELECT COUNT(*) FROM erp_client")).scalar() > 0


def start_agency_simulator(env: DemoEnvironment):
    """Start the SFTP agency simulator and put the Airflow connections in the environment."""
    from inkasso.agreements import load_agreements
    from inkasso.db.engine import engine_for_url
    from inkasso_demo.simulator.agency import start_agency

    running = start_agency(env.sftp_root, env.keys, load_agreements(engine_for_url(env.erp_url)))
    os.environ.update(running.connections)
    return running


DAILY_DAGS = [  # the day's runs, in order, at their scheduled time (Europe/Oslo)
    ("inkasso_bank_import", time(4, 0)),
    ("inkasso_corrections", time(4, 30)),
    ("inkasso_dispatch", time(5, 0)),
    ("inkasso_inbound", time(6, 0)),
    ("inkasso_report", time(7, 0)),
]


def load_dags() -> dict:
    """The project's DAGs, parsed once (an import error stops the demo)."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=os.environ["AIRFLOW__CORE__DAGS_FOLDER"])
    if bag.import_errors:
        raise SystemExit(f"DAG import errors: {bag.import_errors}")
    return bag.dags


class Stopwatch:
    """Where a demo day's seconds go: named laps, printed as one table at the end."""

    def __init__(self) -> None:
        self.laps: list[tuple[str, float]] = []
        self._start = self._last = perf_counter()

    def lap(self, name: str) -> None:
        """Close the lap that ran since the previous one under ``name``."""
        now = perf_counter()
        self.laps.append((name, now - self._last))
        self._last = now

    def as_dict(self) -> dict:
        """The laps and the total in seconds, by name."""
        return {**dict(self.laps), "total": perf_counter() - self._start}

    def lines(self) -> list[str]:
        """The laps and the total, one line each, seconds with one decimal."""
        total = perf_counter() - self._start
        width = max(len(name) for name, _ in self.laps) if self.laps else 5
        rows = [f"  {name:<{width}}  {sec:6.1f} s" for name, sec in self.laps]
        return [*rows, f"  {'total':<{width}}  {total:6.1f} s"]


def run_dag(dags: dict, dag_id: str, day: date, at: time) -> str:
    """Run one DAG through Airflow (``dag.test``) for the day's logical date; returns its state.

    The run is named as ``inkasso_demo_day`` names the day's run (``demo_run_id``), not
    ``dag.test``'s ``manual__<now>``: Airflow keeps one run per DAG and logical date, so under
    ``make airflow`` a trigger of a day ``make demo`` played finds this run and resets it."""
    from unittest.mock import patch

    from airflow.models.dagrun import DagRun

    from inkasso_demo.simulator.world import demo_run_id

    logical = datetime.combine(day, at, tzinfo=BUSINESS_TZ)
    print(f"running {dag_id} for {logical.isoformat()} ...", flush=True)
    run_id = demo_run_id(day.isoformat(), dag_id)
    with patch.object(DagRun, "generate_run_id", staticmethod(lambda **_: run_id)):
        return str(dags[dag_id].test(logical_date=logical).state)


def print_books(engine, day: date) -> list[str]:
    """Prove the books after the day (``python -m inkasso check``); returns the violations."""
    from inkasso.cli import format_books
    from inkasso.money.check import check_books

    report = check_books(engine, day)
    text = format_books(report).splitlines()
    shown = [line for line in text if not line.startswith("  - ")][:40]
    print("\n== The books (python -m inkasso check) ==", *shown, sep="\n")
    listed = [line for line in text if line.startswith("  - ")]
    print(*listed[:15], sep="\n")
    if len(listed) > 15:
        print(f"  ... {len(listed) - 15} more for a person (see `python -m inkasso check`)")
    return [f"books: {v}" for v in report.violations]


def prepare_environment() -> DemoEnvironment:
    """The demo's environment under ``$AIRFLOW_HOME``, its ERP connection and files base set."""
    # the demo prints its own summary; task logs at INFO: INKASSO_DEMO_LOG=INFO make demo
    os.environ.setdefault(
        "AIRFLOW__LOGGING__LOGGING_LEVEL", os.environ.get("INKASSO_DEMO_LOG", "WARNING")
    )
    env = DemoEnvironment.current()
    env.dir.mkdir(parents=True, exist_ok=True)
    os.environ["AIRFLOW_CONN_ERP_DB"] = json.dumps(
        {"conn_type": "generic", "extra": {"sqlalchemy_url": env.erp_url}}
    )
    os.environ.setdefault("INKASSO_BASE", str(env.home / "inkasso-files"))
    return env


def play_erp_and_bank(engine, base: Path, day: date, *, after_first: bool) -> None:
    """The ERP's activity of the day before (not before the first day), then the bank's files."""
    from inkasso_demo.erp.adjustments import simulate_collection_adjustments
    from inkasso_demo.erp.day import simulate_erp_day
    from inkasso_demo.simulator.bank import bank_lock, write_bank_files

    yesterday = day - timedelta(days=1)
    if after_first:
        with bank_lock(base):  # a running bank service waits for the ERP's whole day
            print(f"ERP activity on {yesterday}: {simulate_erp_day(engine, yesterday, seed=SEED)}")
            print(
                f"credit notes / recalls on {yesterday}: "
                f"{simulate_collection_adjustments(engine, yesterday, seed=SEED)}"
            )
    written = write_bank_files(engine, base, day, seed=SEED)
    print(f"bank files in the drop for {day}: {len(written)}")


def start_task_api() -> None:
    """Start Airflow's in-process task API that ``dag.test`` talks to, by asking its health.

    It is built once a process (seconds of CPU: its routers for every API version), and would
    otherwise be charged to whichever DAG runs first. Airflow internals: when they move, the
    first DAG pays again and nothing else changes.
    """
    try:
        import httpx
        from airflow.sdk.execution_time.supervisor import in_process_api_server
    except ImportError:
        return
    api = in_process_api_server()
    with httpx.Client(transport=api.transport, base_url="http://in-process.invalid") as client:
        client.get("/health")


def keep_start_up_out_of_the_collector() -> None:
    """Collect start-up's garbage once, freeze what is left (modules, DAGs, the task API: about
    600 000 objects) and turn the cyclic garbage collector back on (``main`` turned it off).

    Those objects live as long as the process; left to the collector, its full collections
    walked them again and again while they grew (about ten during start-up, more during the
    day) and once more at the interpreter's exit: seconds of a demo day. Airflow freezes its
    own long-lived processes the same way.
    """
    gc.collect()
    gc.freeze()
    gc.enable()


def run_daily_dags(env: DemoEnvironment, engine, base: Path, day: date, watch: Stopwatch) -> dict:
    """Run the day's DAGs in order against the agency simulator and a mail sink; their states."""
    from inkasso.agreements import load_agreements
    from inkasso_demo.simulator.agency_robot import answer_day
    from inkasso_demo.simulator.mail_sink import MailSink

    dags = load_dags()
    watch.lap("parse the DAGs")
    start_task_api()
    keep_start_up_out_of_the_collector()
    watch.lap("start Airflow's in-process task API (once)")
    agency = start_agency_simulator(env)
    sink = MailSink(env.dir / "mail").start()
    os.environ["AIRFLOW_CONN_SMTP_DEFAULT"] = sink.connection_json()
    states = {}
    try:
        for dag_id, at in DAILY_DAGS:
            if dag_id == "inkasso_inbound":  # the agency answers what it has received so far
                # (manual agreements: the robot also plays the person carrying files both ways)
                answer_day(env.sftp_root, load_agreements(engine), day, seed=SEED, base=base)
                watch.lap("the agency robot answers")
            states[dag_id] = run_dag(dags, dag_id, day, at)
            watch.lap(dag_id)
    finally:
        agency.stop()
        sink.stop()
    return states


def print_and_verify_day(env: DemoEnvironment, engine, base: Path, day: date) -> list[str]:
    """Print what each flow did on ``day``, read the delivered files back, prove the books."""
    from inkasso_demo.views.bank import print_bank_day
    from inkasso_demo.views.corrections import print_corrections_day, verify_corrections_day
    from inkasso_demo.views.dispatch import print_day, verify_delivered
    from inkasso_demo.views.inbound import print_inbound_day
    from inkasso_demo.views.report import print_report_day

    print_bank_day(engine, day)
    print_corrections_day(engine, day)
    print_day(engine, day, env.sftp_root)
    print_inbound_day(engine, day)
    print_report_day(engine, day, base, mail_dir=env.dir / "mail")
    problems = verify_delivered(engine, day, env.sftp_root)
    problems += verify_corrections_day(engine, day, env.sftp_root)
    problems += print_books(engine, day)
    return problems


def finish_day(env: DemoEnvironment, day: date, states: dict, problems: list[str]) -> int:
    """Mark ``day`` done when every run succeeded and nothing was found; the exit status."""
    failed = {dag_id: state for dag_id, state in states.items() if state != "success"}
    if failed or problems:
        print(f"\nDay {day}:", *[f"{d}: {s}" for d, s in failed.items()], *problems, sep="\n  ")
        print("The day is not marked done; `make demo` retries it (every run is safe to repeat).")
        return 1
    env.save_day(day)
    print(f"\nDay {day} done. `make demo` again runs {day + timedelta(days=1)}.")
    print(
        "See the runs, mapped tasks and logs in the Airflow UI: "
        f"`make airflow` (AIRFLOW_HOME={env.home})."
    )
    return 0


# deprecation notices raised inside Airflow and its providers' own imports on this stack: no
# user of the demo can act on them, and among the day's lines they read as trouble
LIBRARY_NOTICES = (
    r"The `airflow\.utils\.operator_helpers\.determine_kwargs` attribute is deprecated",
    r"Using `httpx` with `starlette\.testclient` is deprecated",
    r"GitWildMatchPattern \('gitwildmatch'\) is deprecated",
)


def quiet_library_notices() -> None:
    """Leave Airflow's own deprecation notices (``LIBRARY_NOTICES``) out of the demo's output;
    with ``INKASSO_DEMO_LOG`` set (e.g. ``INFO``) everything is shown."""
    if os.environ.get("INKASSO_DEMO_LOG"):
        return
    for message in LIBRARY_NOTICES:
        warnings.filterwarnings("ignore", message=message)


def main(argv: list[str] | None = None) -> int:
    """Run the next demo day and print its outcome; exit status 1 when a run failed."""
    gc.disable()  # until start-up is done: see keep_start_up_out_of_the_collector
    watch = Stopwatch()
    env = prepare_environment()
    ensure_erp(env)
    last = env.last_day()
    day = FIRST_DAY if last is None else last + timedelta(days=1)

    from inkasso.db.engine import engine_for_url
    from inkasso.runs import files_base

    base = files_base()  # the first use of airflow.sdk: imports Airflow (about a second)
    quiet_library_notices()  # after Airflow's import, which puts its own filters first
    watch.lap("start-up (imports, Airflow's too)")
    engine = engine_for_url(env.erp_url)
    play_erp_and_bank(engine, base, day, after_first=last is not None)
    watch.lap("the ERP's day and the bank's files")
    states = run_daily_dags(env, engine, base, day, watch)
    problems = print_and_verify_day(env, engine, base, day)
    watch.lap("printouts, delivery check and the books")
    print("\n== Where the day's seconds went ==", *watch.lines(), sep="\n")
    if os.environ.get("INKASSO_DEMO_LAPS"):  # bench/bench_demo_day.py reads them
        Path(os.environ["INKASSO_DEMO_LAPS"]).write_text(json.dumps(watch.as_dict()))
    return finish_day(env, day, states, problems)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
