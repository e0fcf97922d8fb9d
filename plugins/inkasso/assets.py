"""The data the daily DAGs hand on to each other, as Airflow Assets, and the day each run finished.

The DAGs keep their clock schedules (a business day must be reproducible for backfills). Their
order within a day is kept by data, not by the clock: each flow's ``summarize`` task emits an
asset event whose ``extra`` names the business day it finished (``{"business_date": "D"}``).
``inkasso_corrections`` waits for the bank import's event of its day, ``inkasso_report`` for the
events of every upstream flow of its day, and the report names a flow whose day has no event
("bank import for 2026-11-03 did not run").
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time

from airflow.sdk import Asset

BANK_PAYMENTS = Asset("inkasso://erp/payments")
CASES = Asset("inkasso://pipeline/cases")
OUTGOING_FILES = Asset("inkasso://files/outgoing")
AGENCY_ANSWERS = Asset("inkasso://files/incoming")
REPORTS = Asset("inkasso://reports/daily")

# the flows a day's report depends on: dag_id -> (name in the mail, the asset its summary emits)
UPSTREAM_FLOWS = {
    "inkasso_bank_import": ("bank import", BANK_PAYMENTS),
    "inkasso_corrections": ("corrections", OUTGOING_FILES),
    "inkasso_dispatch": ("dispatch", CASES),
    "inkasso_inbound": ("inbound", AGENCY_ANSWERS),
}
DAY_KEY = "business_date"
WAITING_RUN_TYPES = ("scheduled", "backfill")  # manual runs ("now", dag.test) do not wait


def mark_day_finished(context, day: date, *assets: Asset) -> None:
    """Put the business day into the asset events the task emits when it succeeds."""
    for asset in assets:
        context["outlet_events"][asset].extra = {DAY_KEY: day.isoformat()}


def _events_since(context, asset: Asset, day: date) -> list:
    """The asset's events since the start of ``day`` (Oslo): no run for ``day`` emits earlier."""
    from inkasso.runs import BUSINESS_TZ

    start = datetime.combine(day, time(0), tzinfo=BUSINESS_TZ)
    return list(context["inlet_events"][asset].after(start.isoformat()))


def flows_finished(context, day: date, dag_ids: Iterable[str]) -> set[str]:
    """Which of ``dag_ids`` emitted the finished-day event for ``day`` (read from the inlets)."""
    wanted = set(dag_ids)
    done: set[str] = set()
    by_asset: dict[str, tuple[Asset, list[str]]] = {}
    for dag_id in wanted:
        asset = UPSTREAM_FLOWS[dag_id][1]
        by_asset.setdefault(asset.uri, (asset, []))[1].append(dag_id)
    for asset, flows in by_asset.values():
        for event in _events_since(context, asset, day):
            if event.source_dag_id in flows and (event.extra or {}).get(DAY_KEY) == day.isoformat():
                done.add(event.source_dag_id)
    return done


def flows_missing(context, day: date, dag_ids: Iterable[str]) -> list[str]:
    """Plain sentences for the flows of ``dag_ids`` that did not finish ``day``, in flow order."""
    done = flows_finished(context, day, dag_ids)
    return [
        f"{UPSTREAM_FLOWS[d][0]} for {day.isoformat()} did not run"
        for d in UPSTREAM_FLOWS
        if d in set(dag_ids) and d not in done
    ]


def waits_for_upstream(context) -> bool:
    """True for runs the clock or a backfill started; a manual run goes at once."""
    run_type = getattr(context["dag_run"], "run_type", None)
    return str(getattr(run_type, "value", run_type)) in WAITING_RUN_TYPES


def upstream_ready(context, day: date, dag_ids: Iterable[str]):
    """A sensor's poke: done when every flow of ``dag_ids`` finished ``day`` (or a manual run)."""
    from airflow.sdk import PokeReturnValue

    dag_ids = list(dag_ids)
    if not waits_for_upstream(context):
        return PokeReturnValue(is_done=True, xcom_value={"waited": False})
    missing = flows_missing(context, day, dag_ids)
    return PokeReturnValue(is_done=not missing, xcom_value={"waited": True, "missing": missing})
