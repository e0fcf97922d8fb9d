"""inkasso_inbound: receipts and closure files from the agencies, validated and applied exactly once."""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, dag

from inkasso.agreements import ANSWERING_MODES
from inkasso.assets import AGENCY_ANSWERS, CASES
from inkasso.runs import agreement_params, daily_default_args
from inkasso.tasks import agreements_task, mapped_task, step, summarize_task

DOC = """
### inkasso_inbound

Every hour from 06:00 to 18:00 (Europe/Oslo), so that a file the agency puts in its outbox at
06:05 is read at 07:00, not the next day; for each active agreement (mapped), automated (SFTP)
and manual export alike. The runs of one day share its business day; two runs that overlap
(a backfill, a slow run) are safe: the fetch decides which day owns a newly listed file under a
lock, and a file is applied once.

1. **fetch** (pool `sftp`): reads the agreement's *source*: for an automated agreement the agency's outbox
   (one SFTP connection to list, a second to download); for a manual-export agreement (Intrum,
   Credicare manual) the manual inbox `<base>/manual_inbox/<agreement>/`, where a person drops
   the receipt and closure files the agency sent back. It picks the files the profile names for
   the client's customer number, keeps the original bytes of the new ones under
   `inbound/<agreement>/<YYYY-MM-DD>/` with their sha256 and logs each in `ink_file_log`
   (direction `in`, status `received`). Other files in a manual inbox are left there, with a
   warning in the log.
2. **apply**: every received file, receipts first: format engine (trailer count and totals),
   header, domain checks (known cases, statuses, amounts, references, dates) and the Great
   Expectations suite, then one transaction per file. A failing file is copied to
   `quarantine/<agreement>/`, logged `quarantined` with one `ink_file_issue` row per problem
   (line, field, reason), and nothing of it is applied; the other files go on. Receipts register
   the agency's reference or reject the case (the invoice goes back to `open`, not marked, for a
   person to decide); closures set paid / partly paid / closed / recalled / uncollectible with
   amounts and dates. What the agency collected since the previous closure record is one
   `ink_collection` row (the settlement its payout must match). In `settlement` booking mode
   it is also booked on the invoice (payment method `collection`, debit interim account 1684,
   credit receivables 1500); in `bank` mode the bank import books the agency's KID payout. A
   case that ended moves its invoice out of `at_collection`: `paid` (`credited` after a
   recall), `payout_pending` until the agency's payout arrives, or `collection_ended` with
   money still owed, for a person to decide.
3. **tidy** (pool `sftp`): applied files move to the profile's processed folder on the agency's server (one
   connection; profiles without one, where the agency cleans up, leave them), or from the manual
   inbox into `manual_inbox/<agreement>/processed/`. Quarantined and flagged files stay where
   they arrived, so what is left in a manual inbox is what a person still has to look at.

**Exactly once.** A file is the agency's name plus its sha256. Already logged → skipped (still
in the outbox or inbox, delivered or dropped twice); the same name with other bytes than an
applied file → logged `flagged` with an issue, never applied. Applying claims the log row inside
the transaction.

**Rerun and backfill.** A rerun of day D re-reads D's archive and applies whatever of it is not
applied yet; nothing is applied twice. The source (agency's server or manual inbox) is only read
when D is the newest day logged for the agreement (a normal run or a rerun of today): a backfill
of an earlier day (`airflow backfill create --dag-id inkasso_inbound --from-date ... --to-date
...` or `dag.test(logical_date=...)`) works from the archive only, so it never attributes today's
files to an old day. Files are logged under the business day of the run that first saw them.

**Day finished:** `summarize` emits an event on `inkasso://files/incoming` with
`extra={"business_date": "<day>"}`; `inkasso_report` waits for the day's first one and says
"inbound for <day> did not run" when there is none. A backfill creates one run per hour of each
day (13 a day); the day's later runs read the archive and find nothing new.

**Params** (manual runs): `agreement_id`, `client_id` or `agency` narrow the run.
"""


@dag(
    dag_id="inkasso_inbound",
    schedule=CronTriggerTimetable("0 6-18 * * *", timezone="Europe/Oslo"),  # hourly, 06-18
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Oslo"),
    catchup=False,
    max_active_runs=1,
    tags=["inkasso", "inbound", "sftp", "manual"],
    doc_md=DOC,
    default_args=daily_default_args(),
    params=agreement_params(),
)
def inkasso_inbound():
    @mapped_task(
        "List the agency's outbox or the manual inbox, read new files, archive, log them.",
        pool="sftp",
    )
    def fetch(agreement: dict) -> dict:
        from inkasso.connections import require_agreement_connection
        from inkasso.inbound import fetch_new_files

        run = step(agreement["agreement_id"])
        require_agreement_connection(agreement)  # missing: fail now, not after 3 retries
        return fetch_new_files(
            run.engine,
            run.agreement(agreement),
            run.base,
            run.day.business_date,
            now=run.now(),
            run_id=run.run_id,
        ) | {"agreement": agreement}

    @mapped_task("Validate and apply (or quarantine) each received file, one transaction each.")
    def apply(fetched: dict) -> dict:
        from inkasso.inbound import process_received

        run = step(fetched["agreement_id"])
        agreement = run.agreement(fetched["agreement"])
        done = process_received(
            run.engine, agreement, run.base, run.day.business_date, now=run.now()
        )
        return fetched | done

    @mapped_task(
        "Move applied files to the processed folder (agency's server or manual inbox).", pool="sftp"
    )
    def tidy(applied: dict) -> dict:
        from inkasso.inbound import move_applied

        run = step(applied["agreement_id"])
        if applied.get("mode") == "archive":  # a backfill does not touch the source
            return applied | {"moved": []}
        moved = move_applied(
            run.engine,
            run.agreement(applied["agreement"]),
            run.day.business_date,
            also=applied.get("to_move", []),
            base=run.base,
        )
        return applied | {"moved": moved}

    found = agreements_task(
        ANSWERING_MODES, "The active agreements (automated and manual export) this run covers."
    )()
    summarize = summarize_task("inkasso.inbound:log_summary", [AGENCY_ANSWERS], inlets=[CASES])
    summarize(tidy.expand(applied=apply.expand(fetched=fetch.expand(agreement=found))))


inkasso_inbound()
