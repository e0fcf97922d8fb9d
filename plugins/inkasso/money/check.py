"""The project proves its own books: ``check_books`` and ``python -m inkasso check --date D``.

For every case (``inkasso.money.books``):

* sent = collected + direct + credited + recalled + written_off + open, and the ERP's remaining
  amount is what that leaves (``expected_remaining``); a settlement never booked more on the
  invoice than the agency says it collected (a bank-mode agency's KID payouts beyond it are
  its mistake, listed); the closure records (``ink_collection``) add up to the case's
  collected amount;
* the invoice's status is the one the ERP contract names for the case's state (no invoice stays
  *at collection* once its case has ended);

and for the money between the agency and the creditor:

* every payout is reconciled (``matched``, ``differs`` with its difference, ``missing``), and
  every collection older than the grace days without a payout is listed;
* in settlement mode, each interim account's balance equals what the agencies booking against
  it (a client's settlement-mode agreements with that account, together) collected and booked
  but have not paid out yet, minus what they paid beyond that: every øre of it explained.

A violation is something that must never happen (wrong money); a listed item is something for a
person (a refund due, a payout that differs, an invoice whose collection ended unpaid).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd
from sqlalchemy import Engine, func, select

from inkasso.bank.payouts import reconcile_payouts
from inkasso.db.schema import (
    erp_journal_line,
    ink_agreement,
    ink_collection,
    ink_payout,
)
from inkasso.money.amounts import format_money, plain_date
from inkasso.money.books import TERMS, case_books, expected_invoice_status, paid_beyond_invoice

SHOWN_PER_KIND = 20


@dataclass
class BooksReport:
    """The outcome of ``check_books``: violations (must be none) and items for a person."""

    through: date
    cases: int = 0
    totals: dict = field(default_factory=dict)  # currency -> term -> øre
    violations: list[str] = field(default_factory=list)
    listed: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no violation was found."""
        return not self.violations

    def as_dict(self) -> dict:
        """Plain dict (for XCom and the CLI's ``--json``)."""
        return {
            "through": self.through.isoformat(),
            "ok": self.ok,
            "cases": self.cases,
            "totals": self.totals,
            "violations": self.violations,
            "listed": self.listed,
        }


def _case_violations(books: pd.DataFrame) -> list[str]:
    """Cases whose ERP remaining amount or invoice status disagrees with their books."""
    out = []
    live = books[books["is_latest"] & (books["status"] != "rejected")]
    wrong = live[live["erp_remaining"] != live["expected_remaining"]]
    for r in wrong.head(SHOWN_PER_KIND).itertuples(index=False):
        out.append(
            f"case {r.case_id} invoice {r.invoice_no}: ERP remaining {format_money(r.erp_remaining)}"
            f" but sent {format_money(r.sent)} - collected {format_money(r.collected)}"
            f" (in transit {format_money(r.in_transit)}) - direct {format_money(r.direct)}"
            f" - credited {format_money(r.credited)} - recalled {format_money(r.recalled)}"
            f" - written off {format_money(r.written_off)} leaves {format_money(r.expected_remaining)}"
        )
    if len(wrong) > SHOWN_PER_KIND:
        out.append(f"... and {len(wrong) - SHOWN_PER_KIND} more cases whose remaining disagrees")
    # settlement mode: the pipeline's own closure bookings; more than collected is booked twice
    over = live[(live["in_transit"] < 0) & (live["booking_mode"] == "settlement")]
    for r in over.head(SHOWN_PER_KIND).itertuples(index=False):
        out.append(
            f"case {r.case_id} invoice {r.invoice_no}: {format_money(r.collected_booked)} booked "
            f"from the agency, more than the {format_money(r.collected)} it reports collected"
        )
    expected = live.apply(expected_invoice_status, axis=1) if len(live) else pd.Series([])
    bad = live[live["invoice_status"] != expected]
    shown = bad.head(SHOWN_PER_KIND)
    for r, want in zip(shown.itertuples(index=False), expected[shown.index], strict=True):
        out.append(
            f"case {r.case_id} ({r.status}) invoice {r.invoice_no}: status "
            f"'{r.invoice_status}', the ERP contract says '{want}'"
        )
    return out


def _collection_violations(conn, books: pd.DataFrame) -> list[str]:
    """Cases whose closure records (ink_collection) do not add up to their collected amount."""
    sums = dict(
        conn.execute(
            select(ink_collection.c.case_id, func.sum(ink_collection.c.amount)).group_by(
                ink_collection.c.case_id
            )
        ).all()
    )
    recorded = books["case_id"].map(lambda c: int(sums.get(c, 0)))
    wrong = books[recorded != books["collected"]]
    return [
        f"case {r.case_id}: collected {format_money(r.collected)} but its closure records add up "
        f"to {format_money(sums.get(r.case_id, 0))}"
        for r in wrong.head(SHOWN_PER_KIND).itertuples(index=False)
    ]


def _interim(conn, agreements: list) -> tuple[list[str], list[str]]:
    """Settlement mode: each interim account's balance, explained by collections and payouts.

    An account is the client's: every settlement-mode agreement of the client booking against
    it (an old agency's and a new one's, say) explains its balance together.
    """
    violations, listed = [], []
    accounts: dict[tuple[int, str], list[str]] = {}
    for a in agreements:
        if a.booking_mode == "settlement":
            accounts.setdefault((a.client_id, a.interim_account), []).append(a.agreement_id)
    for (client_id, account), ids in sorted(accounts.items()):
        j = erp_journal_line.c
        balance = conn.execute(
            select(func.coalesce(func.sum(j.debit - j.credit), 0)).where(
                j.client_id == client_id, j.account == account
            )
        ).scalar()
        booked = conn.execute(
            select(func.coalesce(func.sum(ink_collection.c.booked_amount), 0)).where(
                ink_collection.c.agreement_id.in_(ids)
            )
        ).scalar()
        paid = conn.execute(
            select(func.coalesce(func.sum(ink_payout.c.amount), 0)).where(
                ink_payout.c.agreement_id.in_(ids), ink_payout.c.case_id.is_(None)
            )
        ).scalar()
        balance, explained = int(balance), int(booked) - int(paid)
        who = ", ".join(sorted(ids))
        if balance != explained:
            violations.append(
                f"{who}: interim account {account} stands at "
                f"{format_money(balance)}; collections booked {format_money(booked)} - payouts "
                f"{format_money(paid)} explain {format_money(explained)}"
            )
        elif balance:
            listed.append(
                f"{who}: interim account {account} at {format_money(balance)}"
                f" = collected and booked {format_money(booked)} - paid out {format_money(paid)}"
            )
    return violations, listed


def _payout_items(conn, agreements: list, through: date) -> tuple[list[str], list[str]]:
    """Unreconciled payouts (violations); differing and missing ones (listed)."""
    ids = [a.agreement_id for a in agreements]
    outcome = reconcile_payouts(conn, ids, through)
    p = ink_payout.c
    rows = conn.execute(
        select(p.agreement_id, p.payment_date, p.amount, p.reconciliation, p.detail)
        .where(p.agreement_id.in_(ids), p.payment_date <= through)
        .where(p.reconciliation != "matched")
        .order_by(p.agreement_id, p.payment_date, p.payout_id)
    ).all()
    violations = [
        f"{r.agreement_id}: payout {format_money(r.amount)} of {r.payment_date} not reconciled"
        for r in rows
        if r.reconciliation not in ("differs", "missing")
    ]
    listed = [
        f"{r.agreement_id}: payout of {r.payment_date} {r.reconciliation}: {r.detail}"
        for r in rows
        if r.reconciliation in ("differs", "missing")
    ]
    listed += [
        f"{m['agreement_id']}: collected {format_money(m['amount'])} "
        f"({'case ' + str(m['case_id']) if m['case_id'] else 'lump'}, closures "
        f"{m['from']}..{m['to']}) still waiting for the agency's payout"
        for m in outcome["missing_payouts"]
    ]
    return violations, listed


def _totals(books: pd.DataFrame) -> dict:
    """Per currency, the sum of each term (never across currencies). What a case left open
    and a later case of its invoice took over is ``sent_again``, not ``open`` (the later case's
    ``sent`` counts it), so sent = collected + direct + credited + recalled + written_off +
    sent_again + open, each payment counted once."""
    live = books[books["status"] != "rejected"].copy()
    handed_on = live["sent_again"]
    live["sent_again"] = live["open"].where(handed_on, 0)
    live["open"] = live["open"].where(~handed_on, 0)
    live["refund_due"] = live["refund_due"].where(~handed_on, 0)
    terms = ["sent", *TERMS, "sent_again", "open", "refund_due", "in_transit"]
    return {str(cur): {t: int(g[t].sum()) for t in terms} for cur, g in live.groupby("currency")}


def check_books(engine: Engine, through: date) -> BooksReport:
    """Check every case's money and every payout up to ``through`` (module doc); read-only
    except for the payout verdicts, which it recomputes like the bank import does."""
    through = plain_date(through)
    report = BooksReport(through=through)
    with engine.begin() as conn:
        agreements = conn.execute(select(ink_agreement)).all()
        books = case_books(conn)
        beyond = paid_beyond_invoice(conn)
        report.cases = len(books)
        report.totals = _totals(books)
        report.violations += _case_violations(books)
        report.violations += _collection_violations(conn, books)
        interim_bad, interim_listed = _interim(conn, agreements)
        payout_bad, payout_listed = _payout_items(conn, agreements, through)
    report.violations += interim_bad + payout_bad
    report.listed += interim_listed + payout_listed
    # bank mode: the agency's own KID payouts; more than it reports collected is its mistake
    paid_more = books[
        books["is_latest"] & (books["in_transit"] < 0) & (books["booking_mode"] == "bank")
    ]
    report.listed += [
        f"case {r.case_id} invoice {r.invoice_no}: the agency paid "
        f"{format_money(r.collected_booked, r.currency)}, more than the "
        f"{format_money(r.collected, r.currency)} it reports collected: "
        f"{format_money(-r.in_transit, r.currency)} to return or to be explained"
        for r in paid_more.head(SHOWN_PER_KIND).itertuples(index=False)
    ]
    # one refund per invoice: a payment after an invoice's later case opened is in the books of
    # its earlier cases too (each counts what was paid since it was sent), so only the latest lists
    refunds = books[books["is_latest"] & (books["refund_due"] > 0)]
    report.listed += [
        f"case {r.case_id} invoice {r.invoice_no}: {format_money(r.refund_due, r.currency)} "
        "received beyond the claim: a refund to handle"
        for r in refunds.itertuples(index=False)
    ]
    report.listed += [
        f"invoice {r.invoice_no} (never sent to collection): "
        f"{format_money(r.refund_due, r.currency)} received beyond the claim: a refund to handle"
        for r in beyond.itertuples(index=False)
    ]
    ended = books[books["is_latest"] & (books["invoice_status"] == "collection_ended")]
    report.listed += [
        f"case {r.case_id} invoice {r.invoice_no}: collection ended ({r.status}) with "
        f"{format_money(r.erp_remaining, r.currency)} still owed: a person decides"
        for r in ended.head(SHOWN_PER_KIND).itertuples(index=False)
    ]
    if len(ended) > SHOWN_PER_KIND:
        report.listed.append(f"... and {len(ended) - SHOWN_PER_KIND} more ended unpaid")
    return report
