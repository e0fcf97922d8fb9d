"""The report's data: one client's day as plain dataclasses that the templates render.

``inkasso.report.sections`` fills them, one function per section of the mail.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime

# events an incoming file logs for a record that changed nothing (a closure of a case already
# closed, a rejection of one already ended, a receipt after the closure): the file "touched"
# the case, but the day's receipts, closures and cases ended unpaid do not count it again
NO_CHANGE_EVENTS = ("closure_ignored", "rejection_ignored", "receipt_after_closure")


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
    # the day's lump payouts given to this agreement by the agency's account alone: several
    # agreements are paid from it and the payout named no invoice of their cases
    payouts_picked: Figure = field(default_factory=Figure)
    # files not applied: quarantined or flagged (status), with file_name, kind, issues
    quarantined: list[dict] = field(default_factory=list)
    manual_waiting: list[dict] = field(default_factory=list)  # file_name, n, amount, where
    stale: Figure = field(default_factory=Figure)
    stale_oldest: date | None = None
    # reason, currency, n, amount (when held); amount_now: some amounts are the invoices' now
    holds: list[dict] = field(default_factory=list)
    run_issues: list[dict] = field(default_factory=list)
    # money (inkasso.report.money): after closure, ended unpaid, payouts awaited, interim account
    after_closure: list[dict] = field(default_factory=list)
    # cases whose money went beyond the claim while they were open (no after-closure event
    # shows it): invoice_no, case_id, status, is_open, refund_due, to_refund; the books as
    # they stand when the mail is built, so the list stays until the refund is paid back
    beyond_claim: list[dict] = field(default_factory=list)
    ended_unpaid: list[dict] = field(default_factory=list)
    payouts_awaited: list[dict] = field(default_factory=list)
    # the interim account's balance, given once per account: agreements sharing it
    # (interim_shared_with) show it in the first one's section, the others say where
    # (interim_shown_in), so that no one adds the same money twice
    interim_account: str | None = None
    interim_balance: int | None = None
    interim_shared_with: list[str] = field(default_factory=list)
    interim_shown_in: str | None = None

    @property
    def receipts_rejected_total(self) -> Figure:
        """All rejected cases of the day."""
        return Figure(
            sum(r["n"] for r in self.receipts_rejected),
            sum(r["amount"] for r in self.receipts_rejected),
        )

    @property
    def holds_amount_now(self) -> bool:
        """Some held amounts are the invoices' amounts now (holds recorded before 0013)."""
        return any(h.get("amount_now") for h in self.holds)

    def attention(self, stale_days: int) -> list[str]:
        """This agreement's short sentences of what needs a person today (``ClientReport.
        attention``); ``stale_days``: the client's days before a case without receipt counts."""
        out = []
        broken = [f for f in self.quarantined if f.get("status", "quarantined") == "quarantined"]
        if broken:
            out.append(f"{self.agency}: {len(broken)} file(s) quarantined")
        changed = len(self.quarantined) - len(broken)
        if changed:
            out.append(f"{self.agency}: {changed} file(s) changed after being applied, not applied")
        if self.receipts_rejected:
            out.append(f"{self.agency}: {self.receipts_rejected_total.n} case(s) rejected")
        if self.manual_waiting:
            out.append(f"{self.agency}: {len(self.manual_waiting)} file(s) to send by hand")
        if self.stale.n:
            out.append(
                f"{self.agency}: {self.stale.n} case(s) without receipt after {stale_days} days"
            )
        if any(p["reconciliation"] != "matched" for p in self.payouts):
            out.append(f"{self.agency}: payouts not reconciled")
        if self.payouts_picked.n:
            out.append(
                f"{self.agency}: {self.payouts_picked.n} payout(s) given to {self.agreement_id}"
                " by the account alone: check the agreement"
            )
        if self.run_issues:
            out.append(f"{self.agency}: {len(self.run_issues)} task failure(s)")
        refunds = [x for x in self.after_closure if x["refund_amount"] > 0]
        if refunds:
            out.append(f"{self.agency}: {len(refunds)} refund(s) to handle after closure")
        owed = [x for x in self.after_closure if x["verdict"] == "owed_again"]
        if owed:
            out.append(
                f"{self.agency}: {len(owed)} payment(s) reversed after the case ended:"
                " owed again, decide"
            )
        if self.beyond_claim:
            out.append(
                f"{self.agency}: {len(self.beyond_claim)} refund(s) to handle: paid beyond the claim"
            )
        if self.ended_unpaid:
            out.append(f"{self.agency}: {len(self.ended_unpaid)} case(s) ended unpaid: decide")
        if self.payouts_awaited:
            out.append(
                f"{self.agency}: payouts overdue for {len(self.payouts_awaited)} settlement(s)"
            )
        return out

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
            or self.payouts_picked.n
            or self.quarantined
            or self.manual_waiting
            or self.stale.n
            or self.holds
            or self.run_issues
            or self.after_closure
            or self.beyond_claim
            or self.ended_unpaid
            or self.payouts_awaited
            or self.interim_balance
            or self.interim_shown_in
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
    # file_name, kind, status, n, amount; matched / unmatched: {n, amount} of its payments
    bank_files: list[dict] = field(default_factory=list)
    quarantined_other: list[dict] = field(default_factory=list)  # files without an agreement
    # bank files listed but not read (ink_bank_notice): status refused / vanished, name (quoted
    # and escaped: printable_name), drop
    bank_notices: list[dict] = field(default_factory=list)
    run_issues: list[dict] = field(default_factory=list)  # failures not tied to an agreement
    # money the day's bank files paid beyond invoices never sent to collection (an invoice
    # 'paid' or 'credited' paid again), or took back: invoice_no, amount, refund_amount, label
    refunds: list[dict] = field(default_factory=list)
    # "bank import for 2026-11-03 did not run": an upstream flow of the day without its
    # finished-day asset event, so that a zero below is not mistaken for a quiet day
    flows_missing: list[str] = field(default_factory=list)
    # when the figures were read: a section that keeps no history of its own (held invoices'
    # amounts) is labelled with it when the mail is of an earlier day
    as_of: datetime | None = None

    @property
    def current_as_of(self) -> str | None:
        """``2026-11-10 08:30 UTC`` when the mail is read after its day (a backfill, a rerun),
        for the figures that can only be today's; else None."""
        if self.as_of is None:
            return None
        at = self.as_of.astimezone(UTC)
        return f"{at:%Y-%m-%d %H:%M} UTC" if at.date() > self.business_date else None

    @property
    def attention(self) -> list[str]:
        """Short sentences of what needs a person today (the mail's first lines)."""
        out = list(self.flows_missing)
        for a in self.agencies:
            out += a.attention(self.stale_days)
        refunds = [x for x in self.refunds if x["refund_amount"] > 0]
        if refunds:
            out.append(f"{len(refunds)} refund(s) to handle on invoices not at collection")
        unmatched = sum(f["unmatched"]["n"] for f in self.bank_files)
        if unmatched:
            out.append(f"{unmatched} bank payment(s) not matched to an invoice")
        if self.quarantined_other:
            out.append(f"{len(self.quarantined_other)} bank file(s) quarantined")
        for status, what in (("refused", "refused (not a plain file name)"),
                             ("vanished", "gone before they were read")):  # fmt: skip
            n = sum(1 for x in self.bank_notices if x["status"] == status)
            if n:
                out.append(f"{n} bank file(s) {what}: not read")
        if self.run_issues:
            out.append(f"{len(self.run_issues)} task failure(s)")
        return out
