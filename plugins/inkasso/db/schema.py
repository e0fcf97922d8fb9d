"""Table definitions: the demo ERP (what a real ERP must offer) and the pipeline's own tables.

Two metadata objects keep the ownership clear:

* ``erp_metadata``: the ERP's tables as the demo ERP has them. A real ERP keeps its own tables;
  the pipeline reads them through the queries in ``include/sql/erp/`` and writes only the columns
  listed in README.md's ERP contract (invoice status, invoice address, customer postal address).
* ``pipeline_metadata``: tables the pipeline owns (prefix ``ink_``), created by the Alembic
  migrations in ``inkasso/db/migrations``.

Money is integer øre/öre (``BigInteger``) everywhere.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    false,
    text,
    true,
)

# Named constraints, so that migrations can refer to them on SQLite and PostgreSQL alike.
NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
erp_metadata = MetaData(naming_convention=NAMING)
pipeline_metadata = MetaData(naming_convention=NAMING)

# --------------------------------------------------------------------------- the demo ERP

erp_client = Table(
    "erp_client",
    erp_metadata,
    Column("client_id", Integer, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("org_no", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("currency", String(3), nullable=False),
    # "lowest amount for collection": a customer's marked invoices must reach it together
    Column("min_collection_amount", BigInteger, nullable=False),
    Column("default_bank_account", String(35), nullable=False),
    Column("register_lookup", Boolean, nullable=False, server_default=true()),
    Column("report_recipients", Text, nullable=False, server_default=""),
)

erp_customer = Table(
    "erp_customer",
    erp_metadata,
    Column("customer_id", Integer, primary_key=True),
    Column("client_id", ForeignKey("erp_client.client_id"), nullable=False),
    Column("customer_no", String(20), nullable=False),
    Column("name", String(100), nullable=False),
    Column("is_organisation", Boolean, nullable=False),
    Column("national_id", String(20), nullable=False),
    Column("country", String(2), nullable=False),
    Column("postal_street", String(100)),
    Column("postal_postcode", String(10)),
    Column("postal_city", String(50)),
    # 'register' when the postal address came from the person register, else 'manual'
    Column("postal_source", String(10), nullable=False, server_default="manual"),
    Column("billing_street", String(100)),
    Column("billing_postcode", String(10)),
    Column("billing_city", String(50)),
    Column("email", String(100)),
    UniqueConstraint("client_id", "customer_no"),
    # the Inkasso view finds a case by customer number without knowing the client
    Index("ix_erp_customer_customer_no", "customer_no"),
)

erp_invoice = Table(
    "erp_invoice",
    erp_metadata,
    Column("invoice_id", Integer, primary_key=True),
    Column("client_id", ForeignKey("erp_client.client_id"), nullable=False),
    Column("customer_id", ForeignKey("erp_customer.customer_id"), nullable=False),
    Column("invoice_no", String(20), nullable=False),
    Column("invoice_date", Date, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("original_amount", BigInteger, nullable=False),
    Column("remaining_amount", BigInteger, nullable=False),
    Column("kid", String(25), nullable=False),
    Column("reminder_count", Integer, nullable=False, server_default="0"),
    # open, paid, credited, at_collection
    Column("status", String(20), nullable=False),
    Column("disputed", Boolean, nullable=False, server_default=false()),
    Column("marked_for_collection", Boolean, nullable=False, server_default=false()),
    Column("marked_at", DateTime(timezone=True)),
    # the invoice's own address; addr_changed_manually marks an address a person typed in
    Column("addr_street", String(100)),
    Column("addr_postcode", String(10)),
    Column("addr_city", String(50)),
    Column("addr_changed_manually", Boolean, nullable=False, server_default=false()),
    UniqueConstraint("client_id", "invoice_no"),
    Index("ix_erp_invoice_marked", "marked_for_collection", "client_id"),
    # the Inkasso view finds a case by invoice number without knowing the client
    Index("ix_erp_invoice_invoice_no", "invoice_no"),
)

# The mock of the national person register (Folkeregisteret / SPAR): a real one is an API.
erp_person_register = Table(
    "erp_person_register",
    erp_metadata,
    Column("national_id", String(20), primary_key=True),
    Column("name", String(100), nullable=False),
    Column("street", String(100)),
    Column("postcode", String(10)),
    Column("city", String(50)),
    Column("country", String(2), nullable=False),
)

# --------------------------------------------------------------------------- pipeline tables

ink_agreement = Table(
    "ink_agreement",
    pipeline_metadata,
    Column("agreement_id", String(40), primary_key=True),
    Column("client_id", Integer, nullable=False),
    # the agency profile's name in include/formats/agencies/<agency>.yaml
    Column("agency", String(30), nullable=False),
    Column("country", String(2), nullable=False),
    Column("customer_no_at_agency", String(20), nullable=False),
    # payer account of the agency's payouts (filters them out of direct payments)
    Column("agency_bank_account", String(35), nullable=False),
    # where the agency pays back to; NULL falls back to the client's default account
    Column("payback_account", String(35)),
    # 'sftp' (automated) or 'manual' (a file written into the manual-export outbox)
    Column("mode", String(10), nullable=False),
    Column("sftp_conn_id", String(100)),
    # the agency also runs the reminder service: invoices go at ``reminder_level`` reminders
    Column("reminder_service", Boolean, nullable=False, server_default=false()),
    Column("reminder_level", Integer),
    Column("interim_account", String(10), nullable=False, server_default="1684"),
    # how collected money reaches the ledger (README, "The ERP contract"):
    # 'bank': the agency pays each amount with the invoice's KID and the bank import books it;
    # 'settlement': the closure books it against the interim account, the lump payout clears it
    Column("booking_mode", String(12), nullable=False, server_default="bank"),
    # JSON overrides of the country's gates before sending (include/rules/gates.yaml)
    Column("gates", Text),
    Column("active", Boolean, nullable=False, server_default=true()),
)

ink_file_log = Table(
    "ink_file_log",
    pipeline_metadata,
    Column("file_id", Integer, primary_key=True, autoincrement=True),
    # every file belongs to a client; agency files also to an agreement (bank files: NULL)
    Column("client_id", Integer, nullable=False),
    Column("agreement_id", ForeignKey("ink_agreement.agreement_id")),
    Column("direction", String(3), nullable=False),  # out / in
    # new_cases, corrections (out); receipt, closure, ocr_giro, bgmax (in)
    Column("kind", String(20), nullable=False),
    Column("file_name", String(200), nullable=False),
    Column("business_date", Date, nullable=False),
    # written -> delivering -> delivered / exported (out);
    # received -> applied / quarantined / flagged (a changed file under a name already applied) (in)
    Column("status", String(20), nullable=False),
    Column("path", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size_bytes", BigInteger, nullable=False),
    Column("record_count", Integer, nullable=False),
    Column("amount_total", BigInteger, nullable=False),
    Column("remote_path", Text),
    # a bank file's modification time in its drop when it was read (0012): a later listing with
    # another time under the same name and size is a replacement, read again
    Column("source_mtime", DateTime(timezone=True)),
    Column("detail", Text),
    Column("run_id", String(250)),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("delivered_at", DateTime(timezone=True)),
    # written -> delivering (claimed: host:pid:token, when) -> delivered; see inkasso.locks
    Column("claimed_by", String(200)),
    Column("claimed_at", DateTime(timezone=True)),
    # a quarantined file a person has dealt with (Inkasso view): 'resent' by the agency or
    # 'dismissed', with who, when and a note; the file and its issues stay in the log
    Column("handled_state", String(20)),
    Column("handled_note", Text),
    Column("handled_by", String(100)),
    Column("handled_at", DateTime(timezone=True)),
    # the same name may arrive again with other bytes: logged (flagged), never applied twice
    UniqueConstraint("client_id", "direction", "file_name", "sha256"),
    # one daily new-case file per agreement and day: a rerun finds it instead of writing another
    Index(
        "ux_ink_file_log_daily_out",
        "agreement_id",
        "kind",
        "business_date",
        unique=True,
        sqlite_where=text("direction = 'out' AND kind = 'new_cases'"),
        postgresql_where=text("direction = 'out' AND kind = 'new_cases'"),
    ),
    # an outgoing name is used once per agreement: a second file never replaces the first
    Index(
        "ux_ink_file_log_out_name",
        "agreement_id",
        "file_name",
        unique=True,
        sqlite_where=text("direction = 'out'"),
        postgresql_where=text("direction = 'out'"),
    ),
    # the Inkasso view's file log: newest first, by day and by agreement
    Index("ix_ink_file_log_day", "business_date", "file_id"),
    Index("ix_ink_file_log_agreement_day", "agreement_id", "business_date", "file_id"),
    # the key ink_case's foreign key refers to: a case's file and agreement together
    Index("ux_ink_file_log_file_agreement", "file_id", "agreement_id", unique=True),
)

ink_case = Table(
    "ink_case",
    pipeline_metadata,
    Column("case_id", Integer, primary_key=True, autoincrement=True),
    # the agreement and the file the case was sent in: one foreign key on both (below)
    Column("agreement_id", String(40), nullable=False),
    Column("invoice_id", Integer, nullable=False),
    Column("customer_id", Integer, nullable=False),
    Column("file_id", Integer, nullable=False),
    # sent -> registered / rejected -> paid, partly_paid, closed, recalled, uncollectible
    Column("status", String(20), nullable=False),
    Column("is_open", Boolean, nullable=False, server_default=true()),
    Column("agency_case_ref", String(40)),
    Column("rejection_reason", Text),
    Column("original_amount", BigInteger, nullable=False),
    Column("sent_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    # from the agency's closure file: what it collected, what was left, when it closed
    Column("collected_amount", BigInteger, nullable=False, server_default="0"),
    Column("closed_remaining_amount", BigInteger),
    Column("closed_date", Date),
    # never two open cases for one invoice: the database refuses the second
    Index(
        "ux_ink_case_open_invoice",
        "invoice_id",
        unique=True,
        sqlite_where=text("is_open = 1"),
        postgresql_where=text("is_open"),
    ),
    # the Inkasso view's case list: newest first, narrowed by agreement, status or reference.
    # A status alone needs no index of its own (dropped in 0009, one less per insert and status
    # change): a common one is found walking ix_ink_case_day, a rare one per agreement (the list
    # joins ink_agreement) in ix_ink_case_agreement_status_day
    Index("ix_ink_case_day", "business_date", "case_id"),
    Index("ix_ink_case_agreement_day", "agreement_id", "business_date", "case_id"),
    Index("ix_ink_case_agreement_status_day", "agreement_id", "status", "business_date", "case_id"),
    # a new case has no reference yet: only cases the agency answered are in this index, so
    # opening cases never writes to it (an equality filter implies NOT NULL, both databases)
    Index(
        "ix_ink_case_agency_case_ref",
        "agency_case_ref",
        sqlite_where=text("agency_case_ref IS NOT NULL"),
        postgresql_where=text("agency_case_ref IS NOT NULL"),
    ),
    Index("ix_ink_case_invoice_id", "invoice_id"),
    Index("ix_ink_case_customer_id", "customer_id"),
    # dispatch: the cases of the file just logged (migration 0007)
    Index("ix_ink_case_file_id", "file_id"),
    # a case's file exists and is a file of the case's agreement, whose own foreign key makes
    # the agreement exist: one check per row where two (agreement, file) cost twice (0009)
    ForeignKeyConstraint(
        ["file_id", "agreement_id"],
        ["ink_file_log.file_id", "ink_file_log.agreement_id"],
        name="fk_ink_case_file_id_ink_file_log",
    ),
)

ink_case_event = Table(
    "ink_case_event",
    pipeline_metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("ink_case.case_id"), nullable=False, index=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("kind", String(30), nullable=False),
    Column("detail", Text),
    Column("file_id", ForeignKey("ink_file_log.file_id")),
    # a closure's totals as its file gave them to the case (øre), written by the inbound apply
    # beside the detail text: the amounts a later mail of the day reports (report.history).
    # NULL on every other event, on an ignored closure and where the file left an amount blank;
    # the events before 0014 have them from their detail text
    Column("collected_amount", BigInteger),
    Column("remaining_amount", BigInteger),
    # a file's events (delivery, an adopted orphan, the view's file page) and the key check when
    # a file-log row goes (dispatch's day with nothing to send): without it, a scan of every
    # event, 0.25 s at 5M events and growing with history (0011)
    Index(
        "ix_ink_case_event_file_id",
        "file_id",
        sqlite_where=text("file_id IS NOT NULL"),
        postgresql_where=text("file_id IS NOT NULL"),
    ),
)

# Invoices a dispatch held back, with the reason, per agreement and day (replaced on rerun).
ink_dispatch_hold = Table(
    "ink_dispatch_hold",
    pipeline_metadata,
    Column("agreement_id", ForeignKey("ink_agreement.agreement_id"), primary_key=True),
    Column("business_date", Date, primary_key=True),
    Column("invoice_id", Integer, primary_key=True),
    Column("customer_id", Integer, nullable=False),
    Column("reason", String(40), nullable=False),
    Column("detail", Text),
    # the invoice's remaining amount and currency when it was held (0013; NULL before): the
    # day's report tells the day's amount, not the invoice's now
    Column("amount", BigInteger),
    Column("currency", String(3)),
)

# Problems found in a file (quarantine): one row per line and field, for the report.
ink_file_issue = Table(
    "ink_file_issue",
    pipeline_metadata,
    Column("issue_id", Integer, primary_key=True, autoincrement=True),
    Column("file_id", ForeignKey("ink_file_log.file_id"), nullable=False, index=True),
    Column("line", Integer),
    Column("field", String(60)),
    Column("reason", Text, nullable=False),
)

# Corrections to report to the agency: one row per ERP event (direct payment, credit note,
# recall) on an invoice at collection. The unique source key makes reporting exactly once.
ink_correction = Table(
    "ink_correction",
    pipeline_metadata,
    Column("correction_id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("ink_case.case_id"), nullable=False),
    # the agreement and the file that reports the correction: one foreign key on both (below)
    Column("agreement_id", String(40), nullable=False),
    Column("source", String(20), nullable=False),  # payment / adjustment
    Column("source_id", Integer, nullable=False),
    Column(
        "correction_type", String(2), nullable=False
    ),  # DP direct payment, CN credit note, RC recall
    Column("amount", BigInteger, nullable=False),
    Column("correction_date", Date, nullable=False),
    # recorded with the file that reports it, in that file's transaction (0010: never NULL)
    Column("file_id", Integer, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source", "source_id"),
    # a case's corrections (the Inkasso view's money columns and case page)
    Index("ix_ink_correction_case_id", "case_id"),
    # the file exists and is a file of the correction's agreement, whose own foreign key makes
    # the agreement exist: one check per row where two cost twice (0010, as ink_case in 0009)
    ForeignKeyConstraint(
        ["file_id", "agreement_id"],
        ["ink_file_log.file_id", "ink_file_log.agreement_id"],
        name="fk_ink_correction_file_id_ink_file_log",
    ),
)

# Agency payouts found in bank files, reconciled against the agency's settlement (closures).
ink_payout = Table(
    "ink_payout",
    pipeline_metadata,
    Column("payout_id", Integer, primary_key=True, autoincrement=True),
    Column("agreement_id", ForeignKey("ink_agreement.agreement_id"), nullable=False),
    Column("payment_id", Integer, nullable=False, unique=True),  # erp_payment row
    Column("amount", BigInteger, nullable=False),
    Column("payment_date", Date, nullable=False),
    # bank mode: the case whose invoice's KID the payout carried (NULL: a lump payout)
    Column("case_id", ForeignKey("ink_case.case_id")),
    # matched / missing (no settlement) / differs (amounts disagree) / unreconciled
    Column("reconciliation", String(20), nullable=False, server_default="unreconciled"),
    Column("settled_amount", BigInteger),
    # the closure dates of the settlement this payout pays (since the previous payout)
    Column("covers_from", Date),
    Column("covers_to", Date),
    Column("detail", Text),
    # a lump payout from an account several agreements are paid from, naming no invoice of
    # their cases: given to the first of them by its account alone (0013); the report shows it
    Column("picked", Boolean, nullable=False, server_default=false()),
    Index("ix_ink_payout_agreement_date", "agreement_id", "payment_date"),
    # a case's KID payouts: whether its agency's payout is still on its way (0015)
    Index("ix_ink_payout_case_id", "case_id"),
)

# What the agency collected, per closure record: the change in the case's collected amount.
# Payouts are reconciled against these rows; settlement mode books them on the invoice.
ink_collection = Table(
    "ink_collection",
    pipeline_metadata,
    Column("collection_id", Integer, primary_key=True, autoincrement=True),
    Column("agreement_id", ForeignKey("ink_agreement.agreement_id"), nullable=False),
    Column("case_id", ForeignKey("ink_case.case_id"), nullable=False, index=True),
    Column("invoice_id", Integer, nullable=False),
    Column("file_id", ForeignKey("ink_file_log.file_id"), nullable=False),
    Column("closure_date", Date, nullable=False),
    Column("amount", BigInteger, nullable=False),
    # settlement mode: the amount booked on the invoice against the interim account
    Column("booked_amount", BigInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("file_id", "case_id"),
)

# Money that moved on an invoice after its case had ended (a direct payment, a credit note, a
# recall): the agency is no longer told, so a person is. Each ERP event is recorded once.
ink_after_closure = Table(
    "ink_after_closure",
    pipeline_metadata,
    Column("event_id", Integer, primary_key=True, autoincrement=True),
    Column("case_id", ForeignKey("ink_case.case_id"), nullable=False, index=True),
    Column("agreement_id", ForeignKey("ink_agreement.agreement_id"), nullable=False),
    Column("invoice_id", Integer, nullable=False),
    Column("source", String(20), nullable=False),  # payment / adjustment
    Column("source_id", Integer, nullable=False),
    Column("kind", String(20), nullable=False),  # direct_payment, credit_note, recall, write_off
    Column("amount", BigInteger, nullable=False),
    Column("event_date", Date, nullable=False),
    # overpayment (paid twice), refund_due (credit on a settled invoice), reduces_open,
    # refund_cancelled (a reversal of money counted as refund: refund_amount below zero),
    # owed_again (a reversal that took back more than a refund: owed again, a person decides)
    Column("verdict", String(20), nullable=False),
    # the part of the amount that is more than the case still had open: to pay back
    Column("refund_amount", BigInteger, nullable=False),
    Column("business_date", Date, nullable=False, index=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("source", "source_id"),
)

# --------------------------------------------------------------------------- demo ERP, money

# Payments recorded from the bank payment files (the ERP's payments table).
erp_payment = Table(
    "erp_payment",
    erp_metadata,
    Column("payment_id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", ForeignKey("erp_client.client_id"), nullable=False),
    Column("invoice_id", ForeignKey("erp_invoice.invoice_id")),  # NULL: not matched
    Column("bank_file", String(200), nullable=False),
    Column("payment_ref", String(60), nullable=False),  # unique within the bank file
    Column("payer_account", String(35), nullable=False, server_default=""),
    Column("reference", String(30), nullable=False, server_default=""),  # KID / OCR
    Column("amount", BigInteger, nullable=False),
    Column("payment_date", Date, nullable=False),
    # direct (debtor paid the creditor), agency_payout (special payment), unmatched
    Column("kind", String(20), nullable=False),
    Column("method", String(20), nullable=False, server_default="bank"),  # bank / collection
    Column("booked_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("bank_file", "payment_ref"),
)

# Credit notes and recalls (credit loss with "recall from collection") on invoices.
erp_invoice_adjustment = Table(
    "erp_invoice_adjustment",
    erp_metadata,
    Column("adjustment_id", Integer, primary_key=True, autoincrement=True),
    Column("invoice_id", ForeignKey("erp_invoice.invoice_id"), nullable=False),
    Column("kind", String(20), nullable=False),  # credit_note / recall / write_off
    Column("amount", BigInteger, nullable=False),
    Column("adjustment_date", Date, nullable=False),
    Column("text", String(200)),
    # when the ERP registered it: one registered after the case was sent is reported to the
    # agency even when it is dated earlier (a back-dated credit note)
    Column("booked_at", DateTime(timezone=True)),
)

# General ledger lines the pipeline writes (settlements, agency payouts against the interim account).
erp_journal_line = Table(
    "erp_journal_line",
    erp_metadata,
    Column("line_id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", ForeignKey("erp_client.client_id"), nullable=False),
    Column("journal_date", Date, nullable=False),
    Column("account", String(10), nullable=False),
    Column("debit", BigInteger, nullable=False, server_default="0"),
    Column("credit", BigInteger, nullable=False, server_default="0"),
    Column("text", String(200), nullable=False),
    Column("invoice_id", ForeignKey("erp_invoice.invoice_id")),
    # what produced the line (e.g. 'closure:<file_id>:<case_id>'): never booked twice
    Column("source_ref", String(100), nullable=False),
    UniqueConstraint("source_ref", "account", "debit", "credit"),
)

# --------------------------------------------------------------------------- the daily report

# One mail per client and day; a resend (asked for explicitly) is the next attempt.
ink_mail_log = Table(
    "ink_mail_log",
    pipeline_metadata,
    Column("mail_id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, nullable=False),
    Column("business_date", Date, nullable=False),
    Column("attempt", Integer, nullable=False, server_default="1"),
    Column("recipients", Text, nullable=False),
    Column("subject", String(200), nullable=False),
    Column("html_path", Text, nullable=False),
    Column("status", String(10), nullable=False),  # sending / sent / failed (refused)
    Column("sent_at", DateTime(timezone=True)),
    # the Airflow run that sent this attempt: resend=true sends one new attempt per run
    Column("run_id", String(250)),
    UniqueConstraint("client_id", "business_date", "attempt"),
)

# Task failures of the daily DAGs (written by their failure callback), shown in the day's report.
ink_run_issue = Table(
    "ink_run_issue",
    pipeline_metadata,
    Column("issue_id", Integer, primary_key=True, autoincrement=True),
    Column("dag_id", String(100), nullable=False),
    Column("task_id", String(250), nullable=False),
    Column("label", String(100)),  # the agreement of a mapped task
    Column("run_id", String(250), nullable=False),
    Column("business_date", Date, nullable=False, index=True),
    Column("error", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
)

# Bank files the import listed but could not read (0013): ``refused`` (the name is not a plain
# file name: a path, '..', a control character) or ``vanished`` (gone between listing and
# reading). Neither is in ink_file_log; the day's report names them. One row per day and name.
ink_bank_notice = Table(
    "ink_bank_notice",
    pipeline_metadata,
    Column("notice_id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", Integer, nullable=False),
    Column("business_date", Date, nullable=False),
    Column("status", String(20), nullable=False),  # refused / vanished
    Column("file_name", Text, nullable=False),  # as listed: may hold any character
    Column("drop", Text, nullable=False),  # where it was listed (BankDrop.describe())
    Column("run_id", String(250)),
    Column("at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("client_id", "business_date", "status", "file_name"),
)

# The days whose inbound run listed the agency's outbox: a run for an earlier day is a backfill
# and works from the archive only (even when the later days brought no files).
ink_inbound_fetch = Table(
    "ink_inbound_fetch",
    pipeline_metadata,
    Column("agreement_id", ForeignKey("ink_agreement.agreement_id"), primary_key=True),
    Column("business_date", Date, primary_key=True),
    Column("fetched_at", DateTime(timezone=True), nullable=False),
)

# What a person asked for in the Inkasso view (a DAG triggered, a quarantined file handled):
# who, when, and the Airflow run it started.
ink_ui_action = Table(
    "ink_ui_action",
    pipeline_metadata,
    Column("action_id", Integer, primary_key=True, autoincrement=True),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("username", String(100), nullable=False),
    # corrections_now, read_outbox, rerun_day, file_resent, file_dismissed
    Column("action", String(30), nullable=False),
    Column("agreement_id", String(40)),
    Column("business_date", Date),
    Column("file_id", Integer),
    Column("dag_id", String(100)),
    Column("dag_run_id", String(250)),
    # triggered / refused (Airflow said no) / failed (Airflow not reachable) / recorded
    Column("outcome", String(20), nullable=False),
    Column("note", Text),
    Index("ix_ink_ui_action_at", "at"),
)
