"""inkasso_corrections: direct payments, credit notes and recalls on cases at the agency ->
one correction file per agreement -> agency."""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from inkasso.assets import BANK_PAYMENTS, OUTGOING_FILES
from inkasso.delivery.tasks import outgoing_flow
from inkasso.runs import UPSTREAM_WAIT, agreement_params, daily_default_args
from inkasso.tasks import agreements_task, mapped_task, step, summarize_task

DOC = """
### inkasso_corrections

Every day at 04:30 (Europe/Oslo), after `inkasso_bank_import` has booked the night's bank files,
for each active agency agreement (one mapped task each):

0. **wait_for_bank_import**: a correction file presumes the day's bank files have been read, so
   a run the clock or a backfill started waits (sensor, `reschedule` mode: no worker slot held
   while waiting; every 2 minutes, at most 3 hours) for the bank import's event of the same
   business day on the asset `inkasso://erp/payments`. A run that never sees it fails naming
   the day: run `inkasso_bank_import` for it, or trigger corrections by hand. A manual run
   (the UI's "generate the correction file now") goes at once.

1. **prepare**: collects every *direct payment* (money the debtor paid the creditor, booked by
   the bank import after the case was sent; reversals negative), *credit note* and *recall*
   (a credit loss with "recall from collection") on an invoice with an open case, dated up to
   the run's business day (its logical date in Europe/Oslo) and not reported before; one the
   ERP registered after the case was sent counts even when it is dated earlier (back-dated).
   Money that moved on a case that already *ended* is not for the agency: it is recorded in
   `ink_after_closure` (an over-payment, a refund due, or less still owed; a bank reversal of
   money counted as a refund takes it back, `refund_cancelled`) for the day's mail.
   In one
   transaction: `ink_correction` rows, one correction file with the agency profile's layout and
   name (Lowell/Lindorff: `RD` + customer number + date + time) in the outbox, the file log
   (kind `corrections`) and a history event per correction on its case. A recall closes nothing
   here; the agency's closure does.
2. **deliver** (pool `sftp`): sends every logged, undelivered file of the agreement: SFTP
   (temporary name, read back and compared by sha256 with the file log, rename) or the
   manual-export outbox. A file that could not go out (SFTP down) is delivered by the retry as
   the same file.

**Safe to re-run:** each ERP event is reported once (`ink_correction` is unique on its source).
A rerun or backfill of a day sends nothing that was already sent; an agreement with nothing to
report sends no file.

**Generate the correction file now:** trigger the DAG by hand. Params `agreement_id`,
`client_id` or `agency` narrow the run to one agreement, client or agency; the run reports
everything not yet reported up to today.
"""


@dag(
    dag_id="inkasso_corrections",
    schedule=CronTriggerTimetable("30 4 * * *", timezone="Europe/Oslo"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Oslo"),
    catchup=False,
    max_active_runs=1,
    tags=["inkasso", "corrections", "sftp"],
    doc_md=DOC,
    default_args=daily_default_args(),
    params=agreement_params(),
)
def inkasso_corrections():
    @task.sensor(inlets=[BANK_PAYMENTS], **UPSTREAM_WAIT)
    def wait_for_bank_import():
        """Done when the day's bank import has finished (its asset event names the day)."""
        from inkasso.assets import upstream_ready
        from inkasso.runs import run_day

        context = get_current_context()
        return upstream_ready(context, run_day(context).business_date, ["inkasso_bank_import"])

    @mapped_task("Unreported corrections -> ink_correction, file into the outbox, log, events.")
    def prepare(agreement: dict) -> dict:
        from inkasso.corrections import prepare_corrections

        run = step(agreement["agreement_id"])
        return prepare_corrections(
            run.engine,
            run.agreement(agreement),
            run.day.business_date,
            run.base,
            now=run.now(),
            run_id=run.run_id,
        )

    summarize = summarize_task(
        "inkasso.corrections:log_summary", [OUTGOING_FILES], inlets=[BANK_PAYMENTS]
    )
    found = agreements_task()()
    wait_for_bank_import() >> found
    outgoing_flow(found, prepare, summarize)


inkasso_corrections()
