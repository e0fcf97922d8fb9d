"""What a task needs from its Airflow run: the business day, the cutoff and the file base.

Kept out of the DAG files so they stay a few lines of wiring.
"""

from __future__ import annotations

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
