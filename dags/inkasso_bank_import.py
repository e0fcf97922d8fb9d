"""inkasso_bank_import: the creditor's bank payment files (OCR giro, BgMax) -> ERP payments."""

from __future__ import annotations

import pendulum
from airflow.sdk import CronTriggerTimetable, Param, dag, task

from inkasso.assets import BANK_PAYMENTS
from inkasso.runs import daily_default_args
from inkasso.tasks import mapped_task, step, summarize_task

DOC = """
### inkasso_bank_import

Every day at 04:00 (Europe/Oslo), before `inkasso_corrections`, for each client (one mapped
task each):

1. **Drop**: the client's bank files are read from its drop, configured in the Airflow Variable
   `inkasso_bank_drops` (JSON keyed by client id: `{"1": {"folder": "s3://bank/nordlys/"}, "4":
   {"sftp_conn_id": "bank_sftp", "dir": "/out", "accounts": ["5050-1055"]}}`; `accounts`,
   optional: more accounts the client receives on, step 3); a client without an entry uses the
   folder `<files base>/bank/<client_id>/`. Files stay in the drop; the file log makes each
   count once. A file gone between the listing and its reading is reported `vanished` (not in
   the file log: read when it is back); a listed name that is not a plain file name (a path,
   `..`, a control character) is reported `refused` and never read; both are kept in
   `ink_bank_notice` for the day's mail. The other files are read as usual.
2. **Format**: Nets OCR giro (starts `NY000010`, read with netsgiro) or Bankgirot BgMax (starts
   `01BGMAX`, read with the format engine's `bgmax` layout). The original bytes are archived
   under `inbound/bank/<client>/<day>/` (as `<sha256[:12]>_<name>` when the name there holds other
   bytes already; the same for a quarantined copy).
3. **Rejected whole**: a file that does not read, whose end / deposit records disagree with
   its body, that holds a payment in another currency than the client's (BgMax: a EUR
   deposit), or a payment into an account that is not the client's (its default bank account,
   an agreement's payback account or one of its drop's `accounts`: another client's file), is
   put in `quarantine/bank/<client>/`, logged `quarantined` with the line and field in
   `ink_file_issue`; nothing of it is booked. AvtaleGiro files, and BgMax files marked T
   (Bankgirot's test deliveries: made-up payments), are logged `ignored`.
4. **Booked** (one transaction per file, with its file log row, under the client's booking
   lock: a dispatch of the client waits, and the payments' `booked_at` follows the commit order,
   `inkasso.stamps`): every payment into
   `erp_payment`, matched to the client's invoices by KID / OCR reference, in the payment's
   currency (another currency than the client's quarantines the file, step 3):
   - `collection` when the payer account is a `bank`-mode agreement's `agency_bank_account`
     and the reference is an invoice's KID: the agency paying what it collected on that
     invoice; booked on it (method `collection`, never reported back as a direct payment), an
     `ink_payout` row with its case; an invoice whose case ended goes to `paid` at zero;
   - `agency_payout` for any other payment from an agency's account: a lump settlement, not a
     payment on an invoice; an `ink_payout` row; in `settlement` mode journal lines bank 1920
     debit / interim account (default 1684) credit (`payout:<id>`);
   - a payout's agreement is the one paid from the payer account; of several paid from one
     account (an old and a new agreement with one agency), the one of the latest case of the
     invoice its KID names, else the first (active before inactive, then by id), logged and
     counted (`payouts_picked` in each client's result and in the day's totals) and marked
     (`ink_payout.picked`) for the day's mail;
   - `direct` when the reference is an invoice's KID: the invoice's remaining amount goes down
     (never below zero). An open invoice paid to zero becomes `paid`. **An invoice at collection
     keeps its status `at_collection`** and its remaining amount goes down too, as the
     customer ledger must show the money received; `inkasso_corrections` reports the payment to
     the agency, which lowers its claim, and the agency's closure settles the rest. A
     reversal (a negative payment) raises the remaining amount only by what it takes back
     beyond an over-payment; a `paid` invoice it leaves owing becomes `open` again (or, when
     its case has ended, gets the ended case's status);
   - `unmatched` otherwise (for a person to allocate; in the report).
5. **Reconciliation**: each payout against the settlement it pays: what the agency collected
   (`ink_collection`, the change in a case's collected amount per closure record) since the
   previous payout of the same agreement (lump) or case (per invoice): `matched`, `differs`
   (with the difference) or `missing` (nothing collected to pay), with the closure dates it
   covers, on the `ink_payout` rows; collections more than 2 days old with no payout are listed
   as missing payouts. An agency that pays first and reports the closure up to 2 days later is
   matched too: a payout with nothing collected up to its day pays the next closure's
   collections, unless a payout is dated on that closure's own day. Recomputed every run, so a
   payout that arrived before its closure file turns `matched` on a later run.

**Day finished:** `summarize` emits an event on the asset `inkasso://erp/payments` with
`extra={"business_date": "<day>"}`; `inkasso_corrections` waits for it, and `inkasso_report`
says "bank import for <day> did not run" when it is missing.

**Safe to re-run / backfill:** a file already logged (same name and bytes) is skipped; the same
bytes under another name are logged `duplicate` and not booked. To backfill a day, run the DAG
for that logical date: files still in the drop that were never imported are imported then, and
logged under that business day.

**Params** (manual runs): `client_id` narrows the run to one client.
"""


@dag(
    dag_id="inkasso_bank_import",
    schedule=CronTriggerTimetable("0 4 * * *", timezone="Europe/Oslo"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Europe/Oslo"),
    catchup=False,
    max_active_runs=1,
    tags=["inkasso", "bank", "payments"],
    doc_md=DOC,
    default_args=daily_default_args(),
    params={
        "client_id": Param(None, type=["null", "integer"], description="Only this client"),
    },
)
def inkasso_bank_import():
    @task(multiple_outputs=False)
    def drops(params: dict | None = None) -> list[dict]:
        """The bank drop of every client with an agreement (or the one client asked for)."""
        from airflow.sdk import Variable
        from sqlalchemy import select

        from inkasso.bank.drops import VARIABLE, parse_drops
        from inkasso.db.engine import erp_engine
        from inkasso.db.schema import ink_agreement
        from inkasso.runs import files_base

        with erp_engine().connect() as conn:
            clients = sorted(
                {c for (c,) in conn.execute(select(ink_agreement.c.client_id).distinct())}
            )
        wanted = (params or {}).get("client_id")
        if wanted is not None:
            clients = [c for c in clients if c == wanted]
        config = Variable.get(VARIABLE, default=None)
        return [d.__dict__ for d in parse_drops(config, clients, files_base())]

    @mapped_task(
        "New files of the client's drop: read, checked, booked or quarantined; reconciled."
    )
    def import_client(drop: dict) -> dict:
        from inkasso.bank.drops import BankDrop
        from inkasso.bank.importer import import_drop

        run = step(f"client {drop['client_id']}")
        return import_drop(
            run.engine,
            BankDrop(**drop),
            business_date=run.day.business_date,
            base=run.base,
            now=run.now(),
            run_id=run.run_id,
        )

    summarize = summarize_task("inkasso.bank.importer:log_summary", [BANK_PAYMENTS], per="client")
    summarize(import_client.expand(drop=drops()))


inkasso_bank_import()
