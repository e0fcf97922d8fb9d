"""inkasso_report: the day's summary mail per client (HTML + plain text), kept as files too."""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, get_current_context, task

from inkasso.assets import AGENCY_ANSWERS, BANK_PAYMENTS, CASES, OUTGOING_FILES, REPORTS
from inkasso.runs import UPSTREAM_WAIT, daily_default_args

UPSTREAM = [BANK_PAYMENTS, OUTGOING_FILES, CASES, AGENCY_ANSWERS]

DOC = """
### inkasso_report

Every day at 07:00 (Europe/Oslo), after bank import, corrections, dispatch and inbound of the
same business day: one mail per client (one mapped task each, labelled `client <id>: <name>`) to the addresses in the ERP's
`erp_client.report_recipients` (comma separated), through the `smtp` connection
(`smtp_default`; the `smtp_conn_id` Param picks another one).

Per agency: cases sent (count, amount), corrections sent by kind, receipts (accepted; rejected by
reason), closures by status with amounts, agency payouts reconciled or not, files quarantined
(file, line, field, reason), manual-export files waiting to be sent by hand and where they are,
cases sent more than `stale_days` days ago still without a receipt, invoices held back by reason
and the day's task failures of every inkasso DAG (`ink_run_issue`, written by their failure
callback); payouts given to an agreement by the agency's account alone (`payouts_picked`);
money after closure (refunds to handle, refunds cancelled by a bank reversal), cases ended
unpaid, payouts overdue and the interim account's balance (once per account: agreements
sharing one show it in the first one's section, with whom it is shared). Bank
files read, per client, and bank files not read (`refused`, `vanished`; names quoted and
escaped). National ids are masked before rendering.

**A backfilled or re-run day tells that day:** receipts and closures by what that day's files did
(each case's last event of them), cases ended unpaid, payouts reconciled and overdue as the files
logged up to that day left them, the interim balance by the journal lines dated up to that
day, and cases without receipt of that day.
Held-back invoices show the amount and currency each had when it was held
(`ink_dispatch_hold`); holds recorded before migration 0013 show what is left on the invoice
now, and a mail of an earlier day with such holds labels them "amounts as of <time> UTC".

**After the day's flows, by data:** `wait_for_day` (sensor, `reschedule` mode, every 2 minutes,
at most 3 hours) waits until each upstream flow has emitted its finished-day event for the
business day (asset event `extra={"business_date": "<day>"}` on `inkasso://erp/payments`,
`inkasso://files/outgoing`, `inkasso://pipeline/cases`, `inkasso://files/incoming`). When one
never comes the sensor gives up (skipped) and the mail goes anyway, saying at its top, for
example, "bank import for 2026-11-03 did not run", instead of reporting zero. A manual run (or
`business_date` Param) does not wait, but its mail names the missing flows the same way.

The mail is also kept as `<files base>/reports/<YYYY-MM-DD>/<client_id>.html` and `.txt`.

**Exactly once:** `ink_mail_log` remembers each client's mail of the day. A rerun or backfill of
a day sends nothing that was sent. An attempt left in state `sending` (the worker died between
handing the mail to the server and recording it) fails the task instead of sending it again:
check the mail server for the Message-ID in the error, then trigger with `resend=true`.

**Params** (manual runs): `client_id` (one client), `business_date` (report another day than the
logical date), `stale_days`, `resend` (send a new attempt even if the day's mail went out; it
is marked `RESEND (attempt N)` in subject and bodies),
`smtp_conn_id`.
"""


@dag(
    dag_id="inkasso_report",
    schedule=CronTriggerTimetable("0 7 * * *", timezone="Europe/Oslo"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Oslo"),
    catchup=False,
    max_active_runs=1,
    tags=["inkasso", "report", "smtp"],
    doc_md=DOC,
    default_args=daily_default_args(retries=2),
    params={
        "client_id": Param(None, type=["null", "integer"], description="Only this client"),
        "business_date": Param(
            None,
            type=["null", "string"],
            format="date",
            description="Report this business day (YYYY-MM-DD) instead of the run's logical date",
        ),
        "stale_days": Param(
            5, type="integer", minimum=0, description="Cases without receipt after so many days"
        ),
        "resend": Param(
            False, type="boolean", description="Send a new attempt even if the mail went out"
        ),
        "smtp_conn_id": Param("smtp_default", type="string", description="The smtp connection"),
    },
)
def inkasso_report():
    @task.sensor(inlets=UPSTREAM, soft_fail=True, **UPSTREAM_WAIT)
    def wait_for_day(params: dict | None = None):
        """Done when every upstream flow finished the day; skipped (not failed) on timeout."""
        from inkasso.assets import UPSTREAM_FLOWS, upstream_ready
        from inkasso.report.task import report_day

        day = report_day(get_current_context(), params or {})
        return upstream_ready(get_current_context(), day, UPSTREAM_FLOWS)

    @task(multiple_outputs=False, inlets=UPSTREAM, trigger_rule="none_failed")
    def day_status(params: dict | None = None) -> list[str]:
        """The upstream flows that did not finish the day, as sentences for the mail."""
        from inkasso.assets import UPSTREAM_FLOWS, flows_missing
        from inkasso.report.task import report_day

        day = report_day(get_current_context(), params or {})
        return flows_missing(get_current_context(), day, UPSTREAM_FLOWS)

    @task(multiple_outputs=False, trigger_rule="none_failed")
    def clients(params: dict | None = None) -> list[dict]:
        """The clients with an agency agreement (or the one in the Param)."""
        from inkasso.db.engine import erp_engine
        from inkasso.report.gather import report_clients

        return report_clients(erp_engine(), client_id=params.get("client_id"))

    @task(
        multiple_outputs=False,
        map_index_template="{{ label }}",
        doc_md="Gather the client's day (SQL), render HTML + text, keep the files, send once.",
    )
    def mail(client: dict, missing: list[str], params: dict | None = None) -> dict:
        from inkasso.connections import require_connection
        from inkasso.report.task import report_one_client

        conn_id = (params or {}).get("smtp_conn_id") or "smtp_default"
        require_connection(conn_id, "the report mail")  # missing: fail now, no retries
        return report_one_client(get_current_context(), client, params, missing=missing)

    @task(multiple_outputs=False, inlets=[BANK_PAYMENTS, CASES, AGENCY_ANSWERS], outlets=[REPORTS])
    def summarize(outcomes: list[dict]) -> dict:
        """One line per client in the log; counts for XCom."""
        from inkasso.report.task import log_outcomes

        return log_outcomes(list(outcomes[:]))  # one slice request, no probing past the end

    waited = wait_for_day()
    status, found = day_status(), clients()
    waited >> [status, found]
    summarize(mail.partial(missing=status).expand(client=found))


inkasso_report()
