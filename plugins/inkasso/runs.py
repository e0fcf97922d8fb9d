"""What a task needs from its Airflow run: the business day, the cutoff and the file base.

Kept out of the DAG files so they stay a few lines of wiring.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from inkasso.config import base_url

BUSINESS_TZ = ZoneInfo("Europe/Oslo")


@dataclass(frozen=True)
class RunDay:
    """The business day a run works on, and the cutoff (marks before it count)."""

    business_date: date
    cutoff: datetime


def run_day(context) -> RunDay:
    """The run's business day: its logical date in Europe/Oslo (manual runs: when triggered)."""
    moment = context.get("logical_date") or context["dag_run"].run_after
    moment = moment.astimezone(UTC)
    return RunDay(business_date=moment.astimezone(BUSINESS_TZ).date(), cutoff=moment)


def files_base():
    """The ``ObjectStoragePath`` under which outbox, archive and quarantine live."""
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(base_url())


def label(context, value: str) -> None:
    """Name a mapped task instance in the UI (used with ``map_index_template="{{ label }}"``)."""
    context["label"] = value


def progress(log, what: str, done: int, total: int) -> None:
    """Log ``what: done of total (pct%)`` for long steps (rows, files, clients); integer arithmetic."""
    pct = (100 * done // total) if total else 100
    log.info("%s: %d of %d done (%d%%)", what, done, total, pct)


def _failure_label(context) -> str | None:
    """The mapped task's label (agreement or client) or map index, None for unmapped tasks."""
    ti = context.get("ti") or context.get("task_instance")
    value = context.get("label") or getattr(ti, "rendered_map_index", None)
    map_index = getattr(ti, "map_index", None)
    if not value and map_index is not None and map_index >= 0:
        value = str(map_index)
    return str(value)[:100] if value else None


def record_failure(context) -> None:
    """``on_failure_callback``: one ``ink_run_issue`` row for the failed task; never raises.

    Records dag, task, label (map index), run, business day and the exception text with
    national ids masked, so that the day's ``inkasso_report`` mail shows the failure.
    """
    import logging

    log = logging.getLogger("inkasso.runs")
    try:
        from inkasso.db.engine import erp_engine
        from inkasso.db.schema import ink_run_issue
        from inkasso.report.masking import mask_text

        ti = context.get("ti") or context.get("task_instance")
        error = context.get("exception")
        text = f"{type(error).__name__}: {error}" if error is not None else "failed"
        try_number = getattr(ti, "try_number", None)
        if try_number:
            text = f"try {try_number}: {text}"
        row = {
            "dag_id": getattr(ti, "dag_id", None) or context["dag"].dag_id,
            "task_id": getattr(ti, "task_id", None) or context["task"].task_id,
            "label": _failure_label(context),
            "run_id": context.get("run_id") or getattr(ti, "run_id", ""),
            "business_date": run_day(context).business_date,
            "error": mask_text(text)[:4000],
            "at": datetime.now(UTC),
        }
        with erp_engine().begin() as conn:
            conn.execute(ink_run_issue.insert().values(**row))
        log.info("failure of %s.%s recorded for the day's report", row["dag_id"], row["task_id"])
    except Exception:  # a broken callback must never hide the task's own error
        log.exception("could not record the task failure in ink_run_issue")


def daily_default_args(retries: int = 3) -> dict:
    """``default_args`` of the daily DAGs: retries five minutes apart, and a final failure
    recorded in ``ink_run_issue`` so that it shows in the day's report."""
    from datetime import timedelta

    return {
        "retries": retries,
        "retry_delay": timedelta(minutes=5),
        "on_failure_callback": record_failure,
    }


def agreement_params() -> dict:
    """The Params that narrow a manual run to one agreement, client or agency (UI form)."""
    from airflow.sdk import Param

    return {
        "agreement_id": Param(None, type=["null", "string"], description="Only this agreement"),
        "client_id": Param(
            None, type=["null", "integer"], description="Only this client's agreements"
        ),
        "agency": Param(
            None, type=["null", "string"], description="Only this agency (profile name)"
        ),
    }


# how a daily flow waits for its upstream flows' day (``@task.sensor(**UPSTREAM_WAIT)``):
# reschedule mode frees the worker slot between pokes; a backfill's runs wait like the clock's
UPSTREAM_WAIT = {
    "mode": "reschedule",
    "poke_interval": int(os.environ.get("INKASSO_UPSTREAM_POKE_SECONDS", "120")),
    "timeout": 3 * 60 * 60,
}
