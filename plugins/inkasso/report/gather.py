"""The figures of one client's day, read with a few set-based queries (one per topic, grouped by
agreement), into plain dataclasses that the templates render.

What counts for day D (the business day of the report run):

* cases sent: ``ink_case.business_date = D``; held back: ``ink_dispatch_hold.business_date = D``;
* corrections sent: ``ink_correction`` rows reported in an outgoing file of D;
* receipts and closures: cases with an ``ink_case_event`` whose ``file_id`` is a receipt/closure
  file logged for D (``ink_file_log``, direction ``in``);
* payouts: ``ink_payout`` rows whose ``erp_payment`` came from a bank file logged for D;
* quarantined files (with their ``ink_file_issue`` rows) and bank files read: logged for D;
* manual-export files waiting: outgoing files of D with status ``exported`` (``remote_path``);
* cases without receipt: still ``sent`` (no agency reference, no rejection), sent more than
  ``stale_days`` days before D;
* task failures: ``ink_run_issue`` of D; a failure labelled with one of the client's agreements
  goes to that agency, any other one to every client's general section.

Free text (reasons, details, errors) is masked here with ``mask_text`` (national ids), before
anything renders it.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Engine, func, or_, select

from inkasso.db.schema import (
    erp_client,
    erp_invoice,
    erp_payment,
    ink_agreement,
    ink_case,
    ink_case_event,
    ink_correction,
    ink_dispatch_hold,
    ink_file_issue,
    ink_file_log,
    ink_payout,
    ink_run_issue,
)
from inkasso.report.masking import mask_text
from inkasso.report.money import add_money_sections

BANK_KINDS = ("ocr_giro", "bgmax")
CORRECTION_KINDS = {"DP": "direct payment", "CN": "credit note", "RC": "recall"}


@dataclass
class Figure:
    """A count and an amount in øre/öre."""

    n: int = 0
    amount: int = 0


@dataclass
class AgencySection:
    """One agreement's part of the day."""

    agreement_id: str
    agency: str
    mode: str
    cases_sent: Figure = field(default_factory=Figure)
    corrections: list[dict] = field(default_factory=list)  # kind, label, n, amount
    receipts_accepted: Figure = field(default_factory=Figure)
    receipts_rejected: list[dict] = field(default_factory=list)  # reason, n, amount
    closures: list[dict] = field(default_factory=list)  # status, n, sent, collected, remaining
    payouts: list[dict] = field(default_factory=list)  # reconciliation, n, amount, settled
    payouts_open: list[dict] = field(default_factory=list)  # not matched: date, amount, detail
    quarantined: list[dict] = field(default_factory=list)  # file_name, kind, issues
    manual_waiting: list[dict] = field(default_factory=list)  # file_name, n, amount, where
    stale: Figure = field(default_factory=Figure)
    stale_oldest: date | None = None
    holds: list[dict] = field(default_factory=list)  # reason, n, amount
    run_issues: list[dict] = field(default_factory=list)
    # money (inkasso.report.money): after closure, ended unpaid, payouts awaited, interim account
    after_closure: list[dict] = field(default_factory=list)
    ended_unpaid: list[dict] = field(default_factory=list)
    payouts_awaited: list[dict] = field(default_factory=list)
    interim_balance: int | None = None

    @property
    def receipts_rejected_total(self) -> Figure:
        """All rejected cases of the day."""
        return Figure(
            sum(r["n"] for r in self.receipts_rejected),
            sum(r["amount"] for r in self.receipts_rejected),
        )

    @property
    def is_quiet(self) -> bool:
        """Nothing happened and nothing waits."""
        return not (
            self.cases_sent.n
            or self.corrections
            or self.receipts_accepted.n
            or self.receipts_rejected
            or self.closures
            or self.payouts
            or self.quarantined
            or self.manual_waiting
            or self.stale.n
            or self.holds
            or self.run_issues
            or self.after_closure
            or self.ended_unpaid
            or self.payouts_awaited
            or self.interim_balance
        )


@dataclass
class ClientReport:
    """Everything one client's mail says about one day."""

    client_id: int
    name: str
    country: str
    currency: str
    business_date: date
    recipients: list[str]
    stale_days: int
    agencies: list[AgencySection] = field(default_factory=list)
    bank_files: list[dict] = field(default_factory=list)  # file_name, kind, status, n, amount
    quarantined_other: list[dict] = field(default_factory=list)  # files without an agreement
    run_issues: list[dict] = field(default_factory=list)  # failures not tied to an agreement
    # "bank import for 2026-11-03 did not run": an upstream flow of the day without its
    # finished-day asset event, so that a zero below is not mistaken for a quiet day
    flows_missing: list[str] = field(default_factory=list)

    @property
    def attention(self) -> list[str]:
        """Short sentences of what needs a person today (the mail's first lines)."""
        out = list(self.flows_missing)
        for a in self.agencies:
            if a.quarantined:
                out.append(f"{a.agency}: {len(a.quarantined)} file(s) quarantined")
            if a.receipts_rejected:
                out.append(f"{a.agency}: {a.receipts_rejected_total.n} case(s) rejected")
            if a.manual_waiting:
                out.append(f"{a.agency}: {len(a.manual_waiting)} file(s) to send by hand")
            if a.stale.n:
                out.append(
                    f"{a.agency}: {a.stale.n} case(s) without receipt after {self.stale_days} days"
                )
            if any(p["reconciliation"] != "matched" for p in a.payouts):
                out.append(f"{a.agency}: payouts not reconciled")
            if a.run_issues:
                out.append(f"{a.agency}: {len(a.run_issues)} task failure(s)")
            refunds = [x for x in a.after_closure if x["refund_amount"]]
            if refunds:
                out.append(f"{a.agency}: {len(refunds)} refund(s) to handle after closure")
            if a.ended_unpaid:
                out.append(f"{a.agency}: {len(a.ended_unpaid)} case(s) ended unpaid: decide")
            if a.payouts_awaited:
                out.append(
                    f"{a.agency}: payouts overdue for {len(a.payouts_awaited)} settlement(s)"
                )
        if self.quarantined_other:
            out.append(f"{len(self.quarantined_other)} bank file(s) quarantined")
        if self.run_issues:
            out.append(f"{len(self.run_issues)} task failure(s)")
        return out


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


def _files_of_day(client_id: int, day: date, direction: str, kinds) -> select:
    return select(ink_file_log.c.file_id).where(
        ink_file_log.c.client_id == client_id,
        ink_file_log.c.business_date == day,
        ink_file_log.c.direction == direction,
        ink_file_log.c.kind.in_(kinds),
    )


def _cases_touched_by(client_id: int, day: date, kind: str):
    """Ids of the cases an incoming file of ``kind`` of the day has an event for."""
    return (
        select(ink_case_event.c.case_id)
        .where(ink_case_event.c.file_id.in_(_files_of_day(client_id, day, "in", (kind,))))
        .distinct()
    )


def gather_client_day(
    engine: Engine, client_id: int, day: date, stale_days: int = 5
) -> ClientReport:
    """Read one client's figures of ``day`` (about a dozen grouped queries, none per row)."""
    with engine.connect() as conn:
        client = (
            conn.execute(select(erp_client).where(erp_client.c.client_id == client_id))
            .mappings()
            .one()
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
        sections: dict[str, AgencySection] = {}
        for r in conn.execute(
            select(ink_agreement.c.agreement_id, ink_agreement.c.agency, ink_agreement.c.mode)
            .where(ink_agreement.c.client_id == client_id)
            .order_by(ink_agreement.c.agreement_id)
        ).mappings():
            sections[r["agreement_id"]] = AgencySection(**r)
        report.agencies = list(sections.values())
        agreements = select(ink_agreement.c.agreement_id).where(
            ink_agreement.c.client_id == client_id
        )

        def rows(stmt):
            return conn.execute(stmt).mappings().all()

        # cases sent
        for r in rows(
            select(
                ink_case.c.agreement_id,
                func.count().label("n"),
                func.coalesce(func.sum(ink_case.c.sent_amount), 0).label("amount"),
            )
            .where(ink_case.c.agreement_id.in_(agreements), ink_case.c.business_date == day)
            .group_by(ink_case.c.agreement_id)
        ):
            sections[r["agreement_id"]].cases_sent = Figure(int(r["n"]), int(r["amount"]))

        # corrections reported in the day's outgoing files
        for r in rows(
            select(
                ink_correction.c.agreement_id,
                ink_correction.c.correction_type,
                func.count().label("n"),
                func.coalesce(func.sum(ink_correction.c.amount), 0).label("amount"),
            )
            .where(
                ink_correction.c.agreement_id.in_(agreements),
                ink_correction.c.file_id.in_(
                    _files_of_day(client_id, day, "out", ("corrections",))
                ),
            )
            .group_by(ink_correction.c.agreement_id, ink_correction.c.correction_type)
            .order_by(ink_correction.c.correction_type)
        ):
            kind = r["correction_type"]
            sections[r["agreement_id"]].corrections.append(
                {
                    "kind": kind,
                    "label": CORRECTION_KINDS.get(kind, kind),
                    "n": int(r["n"]),
                    "amount": int(r["amount"]),
                }
            )

        # receipts: accepted, rejected by reason
        rejected = or_(ink_case.c.status == "rejected", ink_case.c.rejection_reason.is_not(None))
        for r in rows(
            select(
                ink_case.c.agreement_id,
                rejected.label("rejected"),
                ink_case.c.rejection_reason,
                func.count().label("n"),
                func.coalesce(func.sum(ink_case.c.sent_amount), 0).label("amount"),
            )
            .where(ink_case.c.case_id.in_(_cases_touched_by(client_id, day, "receipt")))
            .group_by(ink_case.c.agreement_id, rejected, ink_case.c.rejection_reason)
            .order_by(ink_case.c.rejection_reason)
        ):
            section = sections[r["agreement_id"]]
            if r["rejected"]:
                section.receipts_rejected.append(
                    {
                        "reason": mask_text(r["rejection_reason"]) or "(no reason given)",
                        "n": int(r["n"]),
                        "amount": int(r["amount"]),
                    }
                )
            else:
                fig = section.receipts_accepted
                section.receipts_accepted = Figure(
                    fig.n + int(r["n"]), fig.amount + int(r["amount"])
                )

        # closures by status
        for r in rows(
            select(
                ink_case.c.agreement_id,
                ink_case.c.status,
                func.count().label("n"),
                func.coalesce(func.sum(ink_case.c.sent_amount), 0).label("sent"),
                func.coalesce(func.sum(ink_case.c.collected_amount), 0).label("collected"),
                func.coalesce(func.sum(ink_case.c.closed_remaining_amount), 0).label("remaining"),
            )
            .where(ink_case.c.case_id.in_(_cases_touched_by(client_id, day, "closure")))
            .group_by(ink_case.c.agreement_id, ink_case.c.status)
            .order_by(ink_case.c.status)
        ):
            sections[r["agreement_id"]].closures.append(
                {k: (v if k in ("agreement_id", "status") else int(v)) for k, v in r.items()}
            )

        # payouts found in the day's bank files
        bank_names = select(ink_file_log.c.file_name).where(
            ink_file_log.c.file_id.in_(_files_of_day(client_id, day, "in", BANK_KINDS))
        )
        day_payouts = (
            select(ink_payout, erp_payment.c.bank_file)
            .join(erp_payment, erp_payment.c.payment_id == ink_payout.c.payment_id)
            .where(
                ink_payout.c.agreement_id.in_(agreements),
                erp_payment.c.client_id == client_id,
                erp_payment.c.bank_file.in_(bank_names),
            )
            .subquery()
        )
        for r in rows(
            select(
                day_payouts.c.agreement_id,
                day_payouts.c.reconciliation,
                func.count().label("n"),
                func.coalesce(func.sum(day_payouts.c.amount), 0).label("amount"),
                func.coalesce(func.sum(day_payouts.c.settled_amount), 0).label("settled"),
            )
            .group_by(day_payouts.c.agreement_id, day_payouts.c.reconciliation)
            .order_by(day_payouts.c.reconciliation)
        ):
            sections[r["agreement_id"]].payouts.append(
                {
                    "reconciliation": r["reconciliation"],
                    "n": int(r["n"]),
                    "amount": int(r["amount"]),
                    "settled": int(r["settled"]),
                }
            )
        for r in rows(
            select(day_payouts)
            .where(day_payouts.c.reconciliation != "matched")
            .order_by(day_payouts.c.payment_date, day_payouts.c.payout_id)
        ):
            sections[r["agreement_id"]].payouts_open.append(
                {
                    "payment_date": r["payment_date"],
                    "bank_file": r["bank_file"],
                    "reconciliation": r["reconciliation"],
                    "amount": int(r["amount"]),
                    "settled": None if r["settled_amount"] is None else int(r["settled_amount"]),
                    "detail": mask_text(r["detail"]),
                }
            )

        # files of the day: quarantined (with issues), bank files read, manual exports waiting
        files = rows(
            select(ink_file_log)
            .where(ink_file_log.c.client_id == client_id, ink_file_log.c.business_date == day)
            .order_by(ink_file_log.c.file_name, ink_file_log.c.file_id)
        )
        issues = defaultdict(list)
        for r in rows(
            select(ink_file_issue)
            .join(ink_file_log, ink_file_log.c.file_id == ink_file_issue.c.file_id)
            .where(
                ink_file_log.c.client_id == client_id,
                ink_file_log.c.business_date == day,
                ink_file_log.c.status == "quarantined",
            )
            .order_by(ink_file_issue.c.file_id, ink_file_issue.c.line, ink_file_issue.c.issue_id)
        ):
            issues[r["file_id"]].append(
                {"line": r["line"], "field": r["field"], "reason": mask_text(r["reason"])}
            )
        for f in files:
            section = sections.get(f["agreement_id"])
            if f["status"] == "quarantined":
                entry = {
                    "file_name": f["file_name"],
                    "kind": f["kind"],
                    "where": f["path"],
                    "detail": mask_text(f["detail"]),
                    "issues": issues.get(f["file_id"], []),
                }
                (section.quarantined if section else report.quarantined_other).append(entry)
            if f["direction"] == "in" and (f["kind"] in BANK_KINDS or not f["agreement_id"]):
                report.bank_files.append(
                    {
                        "file_name": f["file_name"],
                        "kind": f["kind"],
                        "status": f["status"],
                        "n": int(f["record_count"]),
                        "amount": int(f["amount_total"]),
                    }
                )
            if f["direction"] == "out" and f["status"] == "exported" and section:
                section.manual_waiting.append(
                    {
                        "file_name": f["file_name"],
                        "kind": f["kind"],
                        "n": int(f["record_count"]),
                        "amount": int(f["amount_total"]),
                        "where": f["remote_path"] or f["path"],
                    }
                )

        # cases still without a receipt after stale_days
        limit = day - timedelta(days=stale_days)
        for r in rows(
            select(
                ink_case.c.agreement_id,
                func.count().label("n"),
                func.coalesce(func.sum(ink_case.c.sent_amount), 0).label("amount"),
                func.min(ink_case.c.business_date).label("oldest"),
            )
            .where(
                ink_case.c.agreement_id.in_(agreements),
                ink_case.c.status == "sent",
                ink_case.c.is_open.is_(True),
                ink_case.c.agency_case_ref.is_(None),
                ink_case.c.rejection_reason.is_(None),
                ink_case.c.business_date < limit,
            )
            .group_by(ink_case.c.agreement_id)
        ):
            section = sections[r["agreement_id"]]
            section.stale = Figure(int(r["n"]), int(r["amount"]))
            section.stale_oldest = r["oldest"]

        # invoices held back by the dispatch
        for r in rows(
            select(
                ink_dispatch_hold.c.agreement_id,
                ink_dispatch_hold.c.reason,
                func.count().label("n"),
                func.coalesce(func.sum(erp_invoice.c.remaining_amount), 0).label("amount"),
            )
            .join(erp_invoice, erp_invoice.c.invoice_id == ink_dispatch_hold.c.invoice_id)
            .where(
                ink_dispatch_hold.c.agreement_id.in_(agreements),
                ink_dispatch_hold.c.business_date == day,
            )
            .group_by(ink_dispatch_hold.c.agreement_id, ink_dispatch_hold.c.reason)
            .order_by(ink_dispatch_hold.c.reason)
        ):
            sections[r["agreement_id"]].holds.append(
                {"reason": r["reason"], "n": int(r["n"]), "amount": int(r["amount"])}
            )

        # task failures of the day: the client's own, and those that name no other client
        owners = {
            r["agreement_id"]: r["client_id"]
            for r in rows(select(ink_agreement.c.agreement_id, ink_agreement.c.client_id))
        }
        for r in rows(
            select(ink_run_issue)
            .where(ink_run_issue.c.business_date == day)
            .order_by(ink_run_issue.c.at, ink_run_issue.c.issue_id)
        ):
            entry = {
                "dag_id": r["dag_id"],
                "task_id": r["task_id"],
                "label": r["label"],
                "run_id": r["run_id"],
                "at": r["at"],
                "error": mask_text(r["error"]),
            }
            label = r["label"] or ""
            if label in sections:
                sections[label].run_issues.append(entry)
            elif _label_client(label, owners) in (None, client_id):
                report.run_issues.append(entry)
        add_money_sections(conn, report, sections, day)
    return report


def _label_client(label: str, owners: dict[str, int]) -> int | None:
    """The client a failure's label names (an agreement id or ``client <id>``), else None."""
    match = re.match(r"client (\d+)\b", label)
    return int(match.group(1)) if match else owners.get(label)


__all__ = [
    "AgencySection",
    "ClientReport",
    "Figure",
    "gather_client_day",
    "recipients_of",
    "report_clients",
]
