"""inkasso_dispatch: invoices marked for collection -> one new-case file per agreement -> agency."""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, dag

from inkasso.assets import CASES, OUTGOING_FILES
from inkasso.delivery.tasks import outgoing_flow
from inkasso.runs import agreement_params, daily_default_args
from inkasso.tasks import agreements_task, mapped_task, step, summarize_task

DOC = """
### inkasso_dispatch

Every day at 05:00 (Europe/Oslo), for each active agency agreement (one mapped task each):

1. **prepare** (pool `erp_writer`): reads the invoices marked for collection before the run's
   logical date (strictly: one marked at that very moment goes the next day), applies
   the rules (open, undisputed, not at collection, no earlier case of the invoice; the gates
   before sending from `include/rules/gates.yaml` and the agreement's `gates` JSON:
   `currency_mismatch`, `time_barred`, `not_due`, `too_few_reminders` (Norway: the
   inkassovarsel, `reminder_count >= 1`; with the agency's reminder service: the agreement's
   `reminder_level`), `not_due_long_enough` (Norway: 14 days after the due date); valid
   national id / organisation number; the four address rules with the person register; values
   the agency's file cannot carry hold only their own invoice (`unwritable_field`); the
   client's minimum per customer and currency),
   checks each chunk against the data-check suite (Great Expectations' expectation types,
   evaluated with pandas), writes the new-case file chunk by chunk into the outbox with the
   agency profile's name and layout (header: the agreement's payback account, else the
   client's default; details: the reminder count where the profile carries it), and in one
   transaction opens the cases, puts the invoices *at collection*, writes history events and
   the file log. That transaction holds the agreement's outgoing-file lock and the client's
   booking lock (a bank import of the client waits), and the cases' `opened_at` falls after
   every payment it could read (`inkasso.stamps`): a direct payment is either taken off the
   amount sent or reported by `inkasso_corrections`, never both. Held-back invoices land in
   `ink_dispatch_hold` with their reasons and the amount and currency of the day; the business
   date is the gates' reference day, so a held invoice goes on the first day it is allowed.
2. **deliver** (pool `sftp`): sends every logged, undelivered file of the agreement: SFTP
   (temporary name, read back and compared by sha256 with the file log, rename) or the
   manual-export outbox. A file that failed to go out is retried as the same file.

**Day finished:** `summarize` emits events on `inkasso://pipeline/cases` and
`inkasso://files/outgoing` with `extra={"business_date": "<day>"}`; `inkasso_report` waits for
them and says "dispatch for <day> did not run" when they are missing.

**Safe to re-run:** a rerun or backfill of a day finds that day's file in the file log and sends
nothing new. A file a killed prepare left unlogged in the outbox is adopted (same bytes) or
removed by the next prepare of that agreement and day, and the file log's `detail` says which. An agreement with nothing to send sends no file.

**Params** (manual runs): `agreement_id`, `client_id` or `agency` narrow the run to one agreement.
"""


@dag(
    dag_id="inkasso_dispatch",
    schedule=CronTriggerTimetable("0 5 * * *", timezone="Europe/Oslo"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Oslo"),
    catchup=False,
    max_active_runs=1,
    tags=["inkasso", "dispatch", "sftp"],
    doc_md=DOC,
    default_args=daily_default_args(),
    params=agreement_params(),
)
def inkasso_dispatch():
    @mapped_task(
        "Rules, data check, file into the outbox, cases opened.",
        pool="erp_writer",  # one writer at a time on an SQLite ERP (make airflow: 1 slot)
    )
    def prepare(agreement: dict) -> dict:
        from inkasso.dispatch import prepare_new_cases

        run = step(agreement["agreement_id"])
        return prepare_new_cases(
            run.engine,
            run.agreement(agreement),
            run.day.business_date,
            run.day.cutoff,
            run.base,
            now=run.now(),
            run_id=run.run_id,
        )

    summarize = summarize_task("inkasso.dispatch:log_summary", [CASES, OUTGOING_FILES])
    outgoing_flow(agreements_task()(), prepare, summarize)


inkasso_dispatch()
