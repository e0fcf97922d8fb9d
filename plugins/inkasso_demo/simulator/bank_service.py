"""``python -m inkasso_demo.simulator.bank_service``: the demo bank as a long-running service.

Every poll (``--interval`` / ``INKASSO_DEMO_POLL_SECONDS``, default 5 s) it writes the bank
files of the business day that has begun, once, into ``<INKASSO_BASE>/bank/<client_id>/``.
What "begun" means (``--clock`` / ``INKASSO_DEMO_BANK_CLOCK``):

* ``erp`` (default; ``make airflow``, ``make services``): the demo world's clock. The bank's
  day D begins once the ERP's activity of the day before is recorded (``demo_erp_day``), and
  never after today in Europe/Oslo. The bank's file of a day depends on the ERP's state, so it
  must be written after the ERP's day before and before the day's bank import (which books
  every new file in the drop): the demo DAG ``inkasso_demo_day`` plays exactly this step
  (``world.bank_files``) right after the ERP's day, under the same lock, so whichever comes
  first writes, with the same bytes, and the other finds the file in the drop. The demo's
  first day has no ERP day before it: its files come from the demo DAG (or ``make demo``).
* ``wall``: the wall clock (docker compose, where nobody plays the ERP's days): today's files
  (Europe/Oslo) once the day has begun at midnight.

The demo ERP of ``$AIRFLOW_HOME/inkasso-demo`` (``INKASSO_DEMO_ERP_URL`` for another).
SIGTERM / Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import os
import sys
from datetime import date, timedelta
from pathlib import Path

from inkasso_demo.simulator.poll import business_today, run_service, service_args

CLOCK_ENV = "INKASSO_DEMO_BANK_CLOCK"
CLOCKS = ("erp", "wall")


def due_day(engine, today: date, clock: str = "erp") -> date | None:
    """The business day whose bank files are due (see module doc), or None (not begun yet)."""
    if clock == "wall":
        return today
    from sqlalchemy import func, inspect, select

    from inkasso_demo.erp.day import demo_erp_day

    if not inspect(engine).has_table(demo_erp_day.name):
        return None
    with engine.connect() as conn:
        last = conn.execute(select(func.max(demo_erp_day.c.day))).scalar()
    if last is None:
        return None
    day = last + timedelta(days=1)
    return day if day <= today else None


def bank_step(engine, base, seed: int, clock: str = "erp", today: date | None = None) -> dict:
    """One poll: the due day's files not in the drop yet; returns what was written (or {})."""
    from inkasso_demo.simulator.bank import _write_bank_files, bank_lock

    with bank_lock(base):  # the demo DAG's ERP step and bank step hold it too
        day = due_day(engine, today or business_today(), clock)
        if day is None:
            return {}
        new = [w for w in _write_bank_files(engine, base, day, seed) if w.written]
    if not new:
        return {}
    return {"day": day.isoformat(), "files": [Path(str(w.path)).name for w in new]}


def _add_clock_option(parser) -> None:
    parser.add_argument(
        "--clock", choices=CLOCKS, default=os.environ.get(CLOCK_ENV) or "erp",
        help="when a day begins: the demo ERP's days (erp, default) or the wall clock (wall)",
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Write each business day's bank files as the day begins, until SIGTERM / SIGINT."""
    args = service_args(
        "python -m inkasso_demo.simulator.bank_service", __doc__, argv, _add_clock_option
    )

    from inkasso.db.engine import engine_for_url
    from inkasso.runs import files_base
    from inkasso_demo.demo import SEED, DemoEnvironment

    env = DemoEnvironment.current()
    engine, base = engine_for_url(env.erp_url), files_base()
    print(f"demo bank: {args.clock} clock, drops in {base / 'bank'}", flush=True)
    return run_service("demo bank", lambda: bank_step(engine, base, SEED, args.clock), args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
