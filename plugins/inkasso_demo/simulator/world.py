"""The demo world's parts of a business day, as the demo DAG ``inkasso_demo_day`` runs them.

The same steps ``python -m inkasso_demo.demo`` takes around the five flows, for one logical date:
the ERP's activity of the day before (new invoices, payments, marks, credit notes, recalls),
the bank's payment files of the day, and the agency's answers to what it has received. Each step
is done once per day and returns what it did, so a rerun or a reprocessed backfill day changes
nothing (the underlying simulators keep their own per-day record).
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


def _env():
    from inkasso_demo.demo import DemoEnvironment

    return DemoEnvironment(Path(os.environ.get("AIRFLOW_HOME", ".airflow")).resolve())


def erp_activity(engine, day: date, seed: int = SEED) -> dict:
    """The ERP's activity of the day before ``day`` (nothing before the demo's first day)."""
    from inkasso_demo.erp.adjustments import simulate_collection_adjustments
    from inkasso_demo.erp.day import simulate_erp_day

    yesterday = day - timedelta(days=1)
    if day <= FIRST_DAY:
        return {"day": yesterday.isoformat(), "skipped": "before the demo's first day"}
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
    """The agencies answer what they have received by ``day`` (receipts, closures)."""
    from inkasso.agreements import load_agreements
    from inkasso_demo.simulator.agency_robot import answer_day

    root = sftp_root or _env().sftp_root
    answered = answer_day(root, load_agreements(engine), day, seed=seed, base=base)
    return {
        a["agreement_id"]: {"receipts": list(a["receipts"]), "closures": list(a["closures"])}
        for a in answered
    }
