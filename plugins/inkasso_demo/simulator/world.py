"""The demo world's parts of a business day, as the demo DAG ``inkasso_demo_day`` runs them.

The same steps ``python -m inkasso_demo.demo`` takes around the five flows, for one logical date:
the ERP's activity of the day before (new invoices, payments, marks, credit notes, recalls),
the bank's payment files of the day, and the agency's answers to what it has received. Each step
is done once per day and returns what it did, so a rerun or a reprocessed backfill day changes
nothing (the underlying simulators keep their own per-day record). The robot and bank services
(``inkasso_demo.simulator.robot``, ``inkasso_demo.simulator.bank_service``) play the same steps
as files arrive and days begin; whichever comes first writes, under the same locks.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from pathlib import Path

from inkasso_demo.demo import FIRST_DAY, SEED

DEMO_WORLD_ENV = "INKASSO_DEMO_WORLD"


def demo_world_enabled() -> bool:
    """True when the embedded default asked for the demo DAG(s) (``INKASSO_DEMO_WORLD=1``)."""
    return os.environ.get(DEMO_WORLD_ENV, "").strip().lower() in ("1", "true", "yes")


DEMO_RUN_ID = "demo__{day}__{dag_id}"


def demo_run_id(day: str, dag_id: str) -> str:
    """The name of a flow's run for a demo day (``day`` ISO), the same whoever plays the day:
    ``inkasso_demo_day``'s triggers (``make airflow``) and ``make demo``'s ``dag.test``. Airflow
    keeps one run per DAG and logical date, and a trigger that finds the day's run resets it by
    this name; a run of that date under another name made the trigger fail."""
    return DEMO_RUN_ID.format(day=day, dag_id=dag_id)


def _env():
    from inkasso_demo.demo import DemoEnvironment

    return DemoEnvironment.current()


def erp_activity(engine, day: date, seed: int = SEED, base=None) -> dict:
    """The ERP's activity of the day before ``day`` (nothing before the demo's first day).

    With the files base, under the demo bank's lock: the bank service, which writes day ``day``
    once the ERP's day before is recorded, never sees that day half played.
    """
    from inkasso_demo.erp.adjustments import simulate_collection_adjustments
    from inkasso_demo.erp.day import simulate_erp_day
    from inkasso_demo.simulator.bank import bank_lock
    from inkasso_demo.simulator.locking import file_lock

    yesterday = day - timedelta(days=1)
    if day <= FIRST_DAY:
        return {"day": yesterday.isoformat(), "skipped": "before the demo's first day"}
    with bank_lock(base) if base is not None else file_lock(None):
        return {
            "day": yesterday.isoformat(),
            "erp": simulate_erp_day(engine, yesterday, seed=seed),
            "adjustments": simulate_collection_adjustments(engine, yesterday, seed=seed),
        }


def bank_files(engine, base, day: date, seed: int = SEED) -> dict:
    """The demo bank's payment files of ``day`` in each client's drop; returns counts."""
    from inkasso_demo.simulator.bank import write_bank_files

    written = write_bank_files(engine, base, day, seed=seed)
    return {
        "files": len(written),
        "new": sum(1 for w in written if w.written),
        "payments": sum(w.payments for w in written),
        "payouts": sum(w.payouts for w in written),
    }


def agency_answers(engine, base, day: date, seed: int = SEED, sftp_root: Path | None = None):
    """The agencies answer what they have received by ``day`` (receipts, closures); what the
    robot service answered already is not answered again."""
    from inkasso.agreements import load_agreements
    from inkasso_demo.simulator.agency_robot import answer_day

    root = sftp_root or _env().sftp_root
    answered = answer_day(root, load_agreements(engine), day, seed=seed, base=base)
    return {
        a["agreement_id"]: {"receipts": list(a["receipts"]), "closures": list(a["closures"])}
        for a in answered
    }
