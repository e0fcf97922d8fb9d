"""The sections of the daily mail, one query and one small function each.

Each section function takes the ``Day`` being gathered (connection, client, day, the report and
its agency sections), runs its query (built by the ``*_query`` function beside it: one grouped
query, none per row) and puts the section's rows in place. ``SECTIONS`` is the mail in order:
adding a figure means adding (or changing) one section here and its lines in the templates.

Free text (reasons, details, errors) is masked here with ``mask_text`` (national ids).
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, Select, case, func, or_, select

from inkasso.bank.names import erp_names, erp_names_by_file
from inkasso.bank.payouts import verdicts_as_of
from inkasso.db.schema import (
    erp_invoice,
    erp_payment,
    ink_agreement,
    ink_bank_notice,
    ink_case,
    ink_case_event,
    ink_correction,
    ink_dispatch_hold,
    ink_file_issue,
    ink_file_log,
    ink_payout,
    ink_run_issue,
)
from inkasso.report.history import closures_of_day, day_changes
from inkasso.report.masking import mask_text, printable_name
from inkasso.report.model import AgencySection, ClientReport, Figure
from inkasso.report.money import add_money_sections, beyond_invoice

BANK_KINDS = ("ocr_giro", "bgmax")
# incoming files that were not applied and need a person: broken (quarantined), or a changed
# file under a name already applied (flagged); both are listed with their issues
NOT_APPLIED = ("quarantined", "flagged")
CORRECTION_KINDS = {"DP": "direct payment", "CN": "credit note", "RC": "recall"}


@dataclass
class Day:
    """One client's day being gathered: what every section reads and fills."""

    conn: Connection
    client_id: int
    day: date
    stale_days: int
    report: ClientReport
    sections: dict[str, AgencySection]

    def rows(self, stmt) -> list:
        """The rows of ``stmt`` as mappings."""
        return self.conn.execute(stmt).mappings().all()


def agreements_of(client_id: int) -> Select:
    """The ids of the client's agreements (a subquery)."""
    return select(ink_agreement.c.agreement_id).where(ink_agreement.c.client_id == client_id)


def files_of_day(client_id: int, day: date, direction: str, kinds) -> Select:
    """Ids of the client's files of ``day`` in ``direction`` whose kind is one of ``kinds``."""
    return select(ink_file_log.c.file_id).where(
        ink_file_log.c.client_id == client_id,
        ink_file_log.c.business_date == day,
        ink_file_log.c.direction == direction,
        ink_file_log.c.kind.in_(kinds),
    )


def _sum(column, label: str):
    return func.coalesce(func.sum(column), 0).label(label)


# ----------------------------------------------------------------------------- cases sent
def cases_sent_query(client_id: int, day: date) -> Select:
    """Cases sent on ``day``, per agreement: count and amount."""
    c = ink_case.c
    return (
        select(c.agreement_id, func.count().label("n"), _sum(c.sent_amount, "amount"))
        .where(c.agreement_id.in_(agreements_of(client_id)), c.business_date == day)
        .group_by(c.agreement_id)
    )


def cases_sent(d: Day) -> None:
    """Section: the cases sent."""
    for r in d.rows(cases_sent_query(d.client_id, d.day)):
        d.sections[r["agreement_id"]].cases_sent = Figure(int(r["n"]), int(r["amount"]))


# ----------------------------------------------------------------------------- corrections
def corrections_query(client_id: int, day: date) -> Select:
    """Corrections reported in the day's outgoing files, per agreement and kind."""
    c = ink_correction.c
    return (
        select(c.agreement_id, c.correction_type, func.count().label("n"), _sum(c.amount, "amount"))
        .where(
            c.agreement_id.in_(agreements_of(client_id)),
            c.file_id.in_(files_of_day(client_id, day, "out", ("corrections",))),
        )
        .group_by(c.agreement_id, c.correction_type)
        .order_by(c.correction_type)
    )


def corrections(d: Day) -> None:
    """Section: the corrections sent (direct payments, credit notes, recalls)."""
    for r in d.rows(corrections_query(d.client_id, d.day)):
        kind = r["correction_type"]
        d.sections[r["agreement_id"]].corrections.append(
            {
                "kind": kind,
                "label": CORRECTION_KINDS.get(kind, kind),
                "n": int(r["n"]),
                "amount": int(r["amount"]),
            }
        )


# ----------------------------------------------------------------------------- receipts
def receipts_query(client_id: int, day: date) -> Select:
    """Cases a receipt file of the day answered, by what the day's file did (its last change
    event: ``registered`` or ``rejected``, not the case's state now): accepted, or rejected by
    reason."""
    ev = day_changes(client_id, day, "receipt")
    c = ink_case.c
    rejected = ev.c.kind == "rejected"
    reason = case((rejected, c.rejection_reason))  # the same objects in SELECT and GROUP BY
    return (
        select(
            c.agreement_id,
            rejected.label("rejected"),
            reason.label("rejection_reason"),
            func.count().label("n"),
            _sum(c.sent_amount, "amount"),
        )
        .join(ev, ev.c.case_id == c.case_id)
        .group_by(c.agreement_id, rejected, reason)
        .order_by(reason)
    )


def receipts(d: Day) -> None:
    """Section: receipts, the accepted cases and the rejected ones by reason."""
    for r in d.rows(receipts_query(d.client_id, d.day)):
        section = d.sections[r["agreement_id"]]
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
            section.receipts_accepted = Figure(fig.n + int(r["n"]), fig.amount + int(r["amount"]))


# ----------------------------------------------------------------------------- closures
def closures(d: Day) -> None:
    """Section: the closures by the status the day's file gave (``collected_after_closure``:
    more collected on a case already ended), with the amounts that file said, per agreement."""
    totals: dict[tuple[str, str], dict] = {}
    for closure, _row in closures_of_day(d.conn, d.client_id, d.day):
        key = (closure["agreement_id"], closure["status"])
        entry = totals.setdefault(
            key,
            {"agreement_id": key[0], "status": key[1], "n": 0}
            | {k: 0 for k in ("sent", "collected", "remaining")},
        )
        entry["n"] += 1
        for k in ("sent", "collected", "remaining"):
            entry[k] += closure[k]
    for key in sorted(totals, key=lambda k: k[1]):
        d.sections[key[0]].closures.append(totals[key])


# ----------------------------------------------------------------------------- payouts
def day_payouts(client_id: int, day: date):
    """The payouts found in the client's bank files of the day (a subquery with ``bank_file``)."""
    # the names their payments carry in erp_payment: a reused file name is qualified there
    bank_names = erp_names(files_of_day(client_id, day, "in", BANK_KINDS))
    return (
        select(ink_payout, erp_payment.c.bank_file)
        .join(erp_payment, erp_payment.c.payment_id == ink_payout.c.payment_id)
        .where(
            ink_payout.c.agreement_id.in_(agreements_of(client_id)),
            erp_payment.c.client_id == client_id,
            erp_payment.c.bank_file.in_(bank_names),
        )
        .subquery()
    )


def payouts_of_day_query(client_id: int, day: date) -> Select:
    """The day's payouts, one row each, by payment date."""
    payouts = day_payouts(client_id, day)
    return select(payouts).order_by(payouts.c.payment_date, payouts.c.payout_id)


def payouts_picked_query(client_id: int, day: date) -> Select:
    """The day's payouts given to their agreement by the account alone (``ink_payout.picked``),
    per agreement: count and amount (the client's bank files are in its currency)."""
    p = day_payouts(client_id, day).c
    return (
        select(p.agreement_id, func.count().label("n"), _sum(p.amount, "amount"))
        .where(p.picked.is_(True))
        .group_by(p.agreement_id)
    )


def payouts(d: Day) -> None:
    """Section: the day's payouts by reconciliation, and each one not matched, reconciled as
    the files logged up to the day left them (``verdicts_as_of``), not as a later closure or
    payout changed ``ink_payout``'s verdict since; a payout day's settlement counts once."""
    verdicts = verdicts_as_of(d.conn, list(d.sections), d.day)
    totals: dict[tuple[str, str], dict] = {}
    seen_days: set = set()
    for r in d.rows(payouts_of_day_query(d.client_id, d.day)):
        verdict = verdicts.get(r["payout_id"]) or {
            "reconciliation": "unreconciled",
            "settled": 0,
            "detail": "",
            "payout_day": None,
        }
        status = verdict["reconciliation"]
        entry = totals.setdefault(
            (r["agreement_id"], status),
            {"reconciliation": status, "n": 0, "amount": 0, "settled": 0},
        )
        entry["n"] += 1
        entry["amount"] += int(r["amount"])
        if verdict["payout_day"] not in seen_days:
            seen_days.add(verdict["payout_day"])
            entry["settled"] += verdict["settled"]
        if status != "matched":
            d.sections[r["agreement_id"]].payouts_open.append(
                {
                    "payment_date": r["payment_date"],
                    "bank_file": r["bank_file"],
                    "reconciliation": status,
                    "amount": int(r["amount"]),
                    "settled": verdict["settled"],
                    "detail": mask_text(verdict["detail"]),
                }
            )
    for (agreement_id, _status), entry in sorted(totals.items(), key=lambda t: t[0][1]):
        d.sections[agreement_id].payouts.append(entry)
    for r in d.rows(payouts_picked_query(d.client_id, d.day)):
        d.sections[r["agreement_id"]].payouts_picked = Figure(int(r["n"]), int(r["amount"]))


# ----------------------------------------------------------------------------- files of the day
def files_query(client_id: int, day: date) -> Select:
    """The client's files logged for the day, by name."""
    f = ink_file_log.c
    return (
        select(ink_file_log)
        .where(f.client_id == client_id, f.business_date == day)
        .order_by(f.file_name, f.file_id)
    )


def file_issues_query(client_id: int, day: date) -> Select:
    """The issues of the client's files of the day that were quarantined or flagged, in line
    order."""
    f, i = ink_file_log.c, ink_file_issue.c
    return (
        select(ink_file_issue)
        .join(ink_file_log, f.file_id == i.file_id)
        .where(f.client_id == client_id, f.business_date == day, f.status.in_(NOT_APPLIED))
        .order_by(i.file_id, i.line, i.issue_id)
    )


def bank_payments_query(client_id: int, day: date) -> Select:
    """The payments booked from the client's bank files of the day, per file and whether they
    found an invoice (``erp_payment.kind`` ``unmatched`` or not): count and amount."""
    names = erp_names_by_file(files_of_day(client_id, day, "in", BANK_KINDS)).subquery()
    p = erp_payment.c
    unmatched = (p.kind == "unmatched").label("unmatched")
    return (
        select(names.c.file_id, unmatched, func.count().label("n"), _sum(p.amount, "amount"))
        .join(erp_payment, (p.bank_file == names.c.bank_file) & (p.client_id == names.c.client_id))
        .where(names.c.client_id == client_id)
        .group_by(names.c.file_id, unmatched)
    )


def _file_entry(f, *keys: str) -> dict:
    """A file's name and kind, the given columns, its record count and amount."""
    return (
        {"file_name": f["file_name"], "kind": f["kind"]}
        | {k: f[k] for k in keys}
        | {"n": int(f["record_count"]), "amount": int(f["amount_total"])}
    )


def files(d: Day) -> None:
    """Section: files quarantined or flagged (with their issues), bank files read (with their
    payments matched to an invoice or not), manual exports waiting."""
    issues = defaultdict(list)
    for r in d.rows(file_issues_query(d.client_id, d.day)):
        issues[r["file_id"]].append(
            {"line": r["line"], "field": r["field"], "reason": mask_text(r["reason"])}
        )
    booked = defaultdict(lambda: {k: {"n": 0, "amount": 0} for k in ("matched", "unmatched")})
    for r in d.rows(bank_payments_query(d.client_id, d.day)):
        booked[r["file_id"]]["unmatched" if r["unmatched"] else "matched"] = {
            "n": int(r["n"]),
            "amount": int(r["amount"]),
        }
    for f in d.rows(files_query(d.client_id, d.day)):
        section = d.sections.get(f["agreement_id"])
        if f["status"] in NOT_APPLIED:
            entry = {
                "file_name": f["file_name"],
                "kind": f["kind"],
                "status": f["status"],
                "where": f["path"],
                "detail": mask_text(f["detail"]),
                "issues": issues.get(f["file_id"], []),
            }
            (section.quarantined if section else d.report.quarantined_other).append(entry)
        if f["direction"] == "in" and (f["kind"] in BANK_KINDS or not f["agreement_id"]):
            d.report.bank_files.append(_file_entry(f, "status") | booked[f["file_id"]])
        if f["direction"] == "out" and f["status"] == "exported" and section:
            section.manual_waiting.append(_file_entry(f) | {"where": f["remote_path"] or f["path"]})


def bank_notices_query(client_id: int, day: date) -> Select:
    """The client's bank files of the day that were listed but not read (refused, vanished)."""
    n = ink_bank_notice.c
    return (
        select(n.status, n.file_name, n.drop)
        .where(n.client_id == client_id, n.business_date == day)
        .order_by(n.status, n.file_name)
    )


def bank_notices(d: Day) -> None:
    """Section: bank files not read, each name quoted and escaped (a refused name may hold
    control characters or path parts)."""
    for r in d.rows(bank_notices_query(d.client_id, d.day)):
        d.report.bank_notices.append(
            {
                "status": r["status"],
                "file_name": printable_name(r["file_name"]),
                "drop": printable_name(r["drop"]),
            }
        )


# ----------------------------------------------------------------------------- stale cases
def _answer_events(client_id: int, on_or_before: bool, day: date) -> Select:
    """Case ids with an event of the client's receipt or closure files logged on or before
    ``day`` (``on_or_before``), else after it."""
    e, f = ink_case_event.c, ink_file_log.c
    return (
        select(e.case_id)
        .join(ink_file_log, f.file_id == e.file_id)
        .where(
            f.client_id == client_id,
            f.direction == "in",
            f.kind.in_(("receipt", "closure")),
            f.business_date <= day if on_or_before else f.business_date > day,
        )
    )


def stale_query(client_id: int, day: date, stale_days: int) -> Select:
    """Cases still without a receipt on ``day``, sent over ``stale_days`` before it.

    Only the agency's files move a case out of ``sent`` (a receipt registers or rejects it, a
    closure may come before the receipt), so a case was still waiting on ``day`` when no
    receipt or closure file logged on or before ``day`` has an event for it: a backfilled day
    counts the cases that were waiting then, not the ones still waiting today. The candidates
    are the cases still ``sent`` (the index on agreement and status finds them) and those a
    later day's file answered."""
    c, e = ink_case.c, ink_case_event.c
    still_sent = (
        (c.status == "sent")
        & c.is_open.is_(True)
        & c.agency_case_ref.is_(None)
        & c.rejection_reason.is_(None)
    )
    answered_by_day = _answer_events(client_id, True, day).where(e.case_id == c.case_id).exists()
    return (
        select(
            c.agreement_id,
            func.count().label("n"),
            _sum(c.sent_amount, "amount"),
            func.min(c.business_date).label("oldest"),
        )
        .where(
            c.agreement_id.in_(agreements_of(client_id)),
            c.business_date < day - timedelta(days=stale_days),
            or_(still_sent, c.case_id.in_(_answer_events(client_id, False, day))),
            ~answered_by_day,
        )
        .group_by(c.agreement_id)
    )


def stale(d: Day) -> None:
    """Section: the cases without a receipt after ``stale_days``."""
    for r in d.rows(stale_query(d.client_id, d.day, d.stale_days)):
        section = d.sections[r["agreement_id"]]
        section.stale = Figure(int(r["n"]), int(r["amount"]))
        section.stale_oldest = r["oldest"]


# ----------------------------------------------------------------------------- holds
def holds_query(client_id: int, day: date) -> Select:
    """Invoices the dispatch held back on ``day``, per agreement, reason and currency (an
    invoice in another currency than the client's is held, so amounts are never added across
    currencies), with the amount each had when held; a hold recorded before the amounts were
    kept (0013) counts the invoice's amount now (``unrecorded``: how many)."""
    h, i = ink_dispatch_hold.c, erp_invoice.c
    currency = func.coalesce(h.currency, i.currency)
    return (
        select(
            h.agreement_id,
            h.reason,
            currency.label("currency"),
            func.count().label("n"),
            _sum(func.coalesce(h.amount, i.remaining_amount), "amount"),
            _sum(case((h.amount.is_(None), 1), else_=0), "unrecorded"),
        )
        .join(erp_invoice, i.invoice_id == h.invoice_id)
        .where(h.agreement_id.in_(agreements_of(client_id)), h.business_date == day)
        .group_by(h.agreement_id, h.reason, currency)
        .order_by(h.reason, currency)
    )


def holds(d: Day) -> None:
    """Section: the invoices held back by the dispatch, each amount in its own currency."""
    for r in d.rows(holds_query(d.client_id, d.day)):
        d.sections[r["agreement_id"]].holds.append(
            {
                "reason": r["reason"],
                "currency": r["currency"],
                "n": int(r["n"]),
                "amount": int(r["amount"]),
                "amount_now": bool(r["unrecorded"]),
            }
        )


# ----------------------------------------------------------------------------- task failures
def run_issues_query(day: date) -> Select:
    """Every task failure recorded for ``day``, in time order."""
    i = ink_run_issue.c
    return select(ink_run_issue).where(i.business_date == day).order_by(i.at, i.issue_id)


def label_client(label: str, owners: dict[str, int]) -> int | None:
    """The client a failure's label names (an agreement id or ``client <id>``), else None."""
    match = re.match(r"client (\d+)\b", label)
    return int(match.group(1)) if match else owners.get(label)


def run_issues(d: Day) -> None:
    """Section: task failures; one labelled with an agreement of the client goes to that
    agency, one naming no other client to the general section."""
    owners = {
        r["agreement_id"]: r["client_id"]
        for r in d.rows(select(ink_agreement.c.agreement_id, ink_agreement.c.client_id))
    }
    for r in d.rows(run_issues_query(d.day)):
        entry = {k: r[k] for k in ("dag_id", "task_id", "label", "run_id", "at")}
        entry["error"] = mask_text(r["error"])
        label = r["label"] or ""
        if label in d.sections:
            d.sections[label].run_issues.append(entry)
        elif label_client(label, owners) in (None, d.client_id):
            d.report.run_issues.append(entry)


# ----------------------------------------------------------------------------- money
def money(d: Day) -> None:
    """Section: after closure, ended unpaid, payouts awaited, interim account; money the day's
    bank files paid beyond invoices never sent to collection (or took back)."""
    add_money_sections(d.conn, d.report, d.sections, d.day)
    names = erp_names(files_of_day(d.client_id, d.day, "in", BANK_KINDS))
    d.report.refunds = beyond_invoice(d.conn, d.client_id, d.day, names)


SECTIONS: list[Callable[[Day], None]] = [
    cases_sent,
    corrections,
    receipts,
    closures,
    payouts,
    files,
    bank_notices,
    stale,
    holds,
    run_issues,
    money,
]
