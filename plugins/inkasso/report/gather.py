"""The figures of one client's day, read section by section (``inkasso.report.sections``: one
set-based query per topic, grouped by agreement) into the dataclasses of ``inkasso.report.model``.

What counts for day D (the business day of the report run):

* cases sent: ``ink_case.business_date = D``; held back: ``ink_dispatch_hold.business_date = D``;
* corrections sent: ``ink_correction`` rows reported in an outgoing file of D;
* receipts and closures: cases with an ``ink_case_event`` whose ``file_id`` is a receipt/closure
  file logged for D (``ink_file_log``, direction ``in``), not counting the events of records
  that changed nothing (``NO_CHANGE_EVENTS``: a closure or rejection of a case already ended,
  a receipt after the closure); each case as its last such event of D left it (its kind, and
  for a closure the amounts in its integer columns: ``report.history``), not as it is now;
* cases ended unpaid: the closures of D that ended a case with money still owed then;
* interim account: its journal lines dated on or before D;
* payouts: ``ink_payout`` rows whose ``erp_payment`` came from a bank file logged for D (and
  those given by the account alone: ``picked``), reconciled, like the payouts overdue, against
  what the files logged up to D had brought (``bank.payouts.verdicts_as_of``);
* held back: the day's invoices and reasons, with the amount and currency each had when held
  (``ink_dispatch_hold``); a hold recorded before migration 0013 counts what is left on its
  invoice now (labelled "as of" when the mail is read after D);
* bank files listed but not read (refused, vanished): ``ink_bank_notice`` of D;
* quarantined and flagged files (with their ``ink_file_issue`` rows) and bank files read:
  logged for D;
* manual-export files waiting: outgoing files of D with status ``exported`` (``remote_path``);
* cases without receipt: sent more than ``stale_days`` days before D and without an event of a
  receipt or closure file logged on or before D (still ``sent`` on D);
* task failures: ``ink_run_issue`` of D; a failure labelled with one of the client's agreements
  goes to that agency, any other one to every client's general section.

Free text (reasons, details, errors) is masked here with ``mask_text`` (national ids), before
anything renders it.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import Engine, select

from inkasso.db.schema import erp_client, ink_agreement
from inkasso.report.model import AgencySection, ClientReport, Figure
from inkasso.report.sections import BANK_KINDS, CORRECTION_KINDS, SECTIONS, Day


def recipients_of(value: str | None) -> list[str]:
    """The comma (or semicolon) separated ``report_recipients`` as a clean list."""
    parts = (value or "").replace(";", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def report_clients(engine: Engine, client_id: int | None = None) -> list[dict]:
    """The clients with at least one agreement (active or not): client_id and name."""
    stmt = (
        select(erp_client.c.client_id, erp_client.c.name)
        .where(
            erp_client.c.client_id.in_(select(ink_agreement.c.client_id)),
        )
        .order_by(erp_client.c.client_id)
    )
    if client_id is not None:
        stmt = stmt.where(erp_client.c.client_id == client_id)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(stmt).mappings()]


def _new_report(conn, client_id: int, day: date, stale_days: int) -> ClientReport:
    """The client's empty report, with one agency section per agreement."""
    client = (
        conn.execute(select(erp_client).where(erp_client.c.client_id == client_id)).mappings().one()
    )
    report = ClientReport(
        client_id=client_id,
        name=client["name"],
        country=client["country"],
        currency=client["currency"],
        business_date=day,
        recipients=recipients_of(client["report_recipients"]),
        stale_days=stale_days,
    )
    agreements = conn.execute(
        select(ink_agreement.c.agreement_id, ink_agreement.c.agency, ink_agreement.c.mode)
        .where(ink_agreement.c.client_id == client_id)
        .order_by(ink_agreement.c.agreement_id)
    ).mappings()
    report.agencies = [AgencySection(**r) for r in agreements]
    return report


def gather_client_day(
    engine: Engine, client_id: int, day: date, stale_days: int = 5, as_of: datetime | None = None
) -> ClientReport:
    """Read one client's figures of ``day``: the sections of ``SECTIONS`` in order (about a
    dozen grouped queries, none per row). ``as_of``: when they are read (the mail labels the
    figures that can only be that time's)."""
    with engine.connect() as conn:
        report = _new_report(conn, client_id, day, stale_days)
        report.as_of = as_of
        sections = {a.agreement_id: a for a in report.agencies}
        day_ = Day(conn, client_id, day, stale_days, report, sections)
        for section in SECTIONS:
            section(day_)
    return report


__all__ = [
    "BANK_KINDS",
    "CORRECTION_KINDS",
    "AgencySection",
    "ClientReport",
    "Figure",
    "gather_client_day",
    "recipients_of",
    "report_clients",
]
