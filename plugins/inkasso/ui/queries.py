"""What the Inkasso view shows, read from the ERP database (plain functions on a connection).

Every list is paginated on the server: a page is read with ``LIMIT page_size + 1`` (is there a
next page?) and the number of matches is counted only up to ``COUNT_CAP`` (an exact count of a
million cases would cost more than the page). The money columns of a case list are computed for
the cases of the page only. National ids never leave this module unmasked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import and_, case, false, func, literal, select, true, union_all
from sqlalchemy.engine import Connection

from inkasso.db.schema import (
    erp_client,
    erp_customer,
    erp_invoice,
    erp_journal_line,
    erp_payment,
    ink_after_closure,
    ink_agreement,
    ink_case,
    ink_case_event,
    ink_correction,
    ink_dispatch_hold,
    ink_file_issue,
    ink_file_log,
    ink_payout,
    ink_ui_action,
)
from inkasso.national_ids import mask_id
from inkasso.report.masking import mask_text

PAGE_SIZE = 50
COUNT_CAP = 10_000
# a case still without the agency's receipt after this many days is flagged (the report's default)
STALE_DAYS = 5
CASE_STATUSES = (
    "sent",
    "registered",
    "rejected",
    "paid",
    "partly_paid",
    "closed",
    "recalled",
    "uncollectible",
)
FILE_STATUSES = (
    "written",
    "delivering",
    "delivered",
    "exported",
    "received",
    "applied",
    "quarantined",
    "flagged",
)


@dataclass
class Page:
    """One page of a list: its rows, whether more follow and how many match (up to a cap)."""

    rows: list[dict]
    page: int
    page_size: int
    has_next: bool
    total: int
    total_capped: bool


@dataclass
class CaseFilter:
    """The case list's filters (all optional; empty strings mean 'any')."""

    client_id: int | None = None
    agency: str | None = None
    agreement_id: str | None = None
    status: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    invoice_no: str | None = None
    customer_no: str | None = None
    agency_ref: str | None = None
    late_receipt: bool = False


@dataclass
class FileFilter:
    """The file log's filters."""

    agreement_id: str | None = None
    client_id: int | None = None
    direction: str | None = None
    status: str | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    name: str | None = None


@dataclass
class Options:
    """The choices of the filter forms: clients, agreements, agencies."""

    clients: list[dict] = field(default_factory=list)
    agreements: list[dict] = field(default_factory=list)
    agencies: list[str] = field(default_factory=list)


def filter_options(conn: Connection) -> Options:
    """Clients, agreements and agencies for the filter forms (a few rows)."""
    clients = conn.execute(
        select(erp_client.c.client_id, erp_client.c.name, erp_client.c.currency).order_by(
            erp_client.c.client_id
        )
    ).mappings()
    agreements = conn.execute(
        select(
            ink_agreement.c.agreement_id,
            ink_agreement.c.client_id,
            ink_agreement.c.agency,
            ink_agreement.c.country,
            ink_agreement.c.mode,
            ink_agreement.c.active,
        ).order_by(ink_agreement.c.agreement_id)
    ).mappings()
    agreements = [dict(a) for a in agreements]
    return Options(
        clients=[dict(c) for c in clients],
        agreements=agreements,
        agencies=sorted({a["agency"] for a in agreements}),
    )


def _paged(
    conn: Connection, stmt, order_by, page: int, page_size: int
) -> tuple[list, bool, int, bool]:
    """Rows of one page of ``stmt`` plus (has_next, total up to the cap, capped)."""
    page = max(page, 1)
    rows = list(
        conn.execute(
            stmt.order_by(*order_by).limit(page_size + 1).offset((page - 1) * page_size)
        ).mappings()
    )
    has_next = len(rows) > page_size
    capped_count = select(func.count()).select_from(
        stmt.with_only_columns(literal(1), maintain_column_froms=True)
        .limit(COUNT_CAP + 1)
        .subquery()
    )
    total = conn.execute(capped_count).scalar_one()
    return [dict(r) for r in rows[:page_size]], has_next, min(total, COUNT_CAP), total > COUNT_CAP


def _case_where(conn: Connection, f: CaseFilter, today: date) -> list:
    conds = []
    if f.client_id is not None or f.agency:
        # a client or an agency is a few agreements: naming them lets the planner use the
        # (agreement_id, status, business_date) index instead of filtering a join
        chosen = select(ink_agreement.c.agreement_id)
        if f.client_id is not None:
            chosen = chosen.where(ink_agreement.c.client_id == f.client_id)
        if f.agency:
            chosen = chosen.where(ink_agreement.c.agency == f.agency)
        ids = list(conn.execute(chosen).scalars())
        conds.append(ink_case.c.agreement_id.in_(ids) if ids else false())
    if f.agreement_id:
        conds.append(ink_case.c.agreement_id == f.agreement_id)
    if f.status:
        conds.append(ink_case.c.status == f.status)
    if f.date_from:
        conds.append(ink_case.c.business_date >= f.date_from)
    if f.date_to:
        conds.append(ink_case.c.business_date <= f.date_to)
    if f.agency_ref:
        conds.append(ink_case.c.agency_case_ref == f.agency_ref.strip())
    if f.invoice_no:
        conds.append(
            ink_case.c.invoice_id.in_(
                select(erp_invoice.c.invoice_id).where(
                    erp_invoice.c.invoice_no == f.invoice_no.strip()
                )
            )
        )
    if f.customer_no:
        conds.append(
            ink_case.c.customer_id.in_(
                select(erp_customer.c.customer_id).where(
                    erp_customer.c.customer_no == f.customer_no.strip()
                )
            )
        )
    if f.late_receipt:
        conds.append(ink_case.c.status == "sent")
        conds.append(ink_case.c.business_date < today - timedelta(days=STALE_DAYS))
    return conds


def _books(conn: Connection, case_ids: list[int]) -> dict[int, dict[str, int]]:
    """Per case: its money identity from ``inkasso.money.books`` (the same figures the daily
    check proves): sent, collected, paid directly, credited, recalled, written off, open,
    refund due and what the agency collected but has not paid out yet (øre); ``sent_again``:
    a later case of the invoice took over what it left open."""
    if not case_ids:
        return {}
    from inkasso.money.books import case_books

    books = case_books(conn, case_ids=case_ids)
    return {
        int(r["case_id"]): {t: int(r[t]) for t in BOOK_TERMS}
        | {"direct_paid": int(r["direct"]), "sent_again": bool(r["sent_again"])}
        for r in books.to_dict("records")
    }


BOOK_TERMS = ("sent", "collected", "direct", "credited", "recalled", "written_off", "open",
              "refund_due", "in_transit")  # fmt: skip


def _unbooked(case: dict) -> dict[str, int | None]:
    """The money of a case the books cannot reckon (its ERP invoice is gone): what the case row
    itself says (sent, collected), every other term unknown (shown empty, never a guess)."""
    unknown: dict[str, int | None] = dict.fromkeys(BOOK_TERMS) | {"direct_paid": None}
    unknown["sent_again"] = None
    return unknown | {"sent": case["sent_amount"], "collected": case["collected_amount"]}


# a case's agreement (its foreign key goes through the file it was sent in)
CASE_AGREEMENT = ink_agreement.c.agreement_id == ink_case.c.agreement_id

CASE_LIST_COLUMNS = (
    ink_case.c.case_id,
    ink_case.c.agreement_id,
    ink_case.c.invoice_id,
    ink_case.c.customer_id,
    ink_case.c.status,
    ink_case.c.is_open,
    ink_case.c.agency_case_ref,
    ink_case.c.sent_amount,
    ink_case.c.collected_amount,
    ink_case.c.currency,
    ink_case.c.business_date,
    ink_agreement.c.client_id,
    ink_agreement.c.agency,
)


def list_cases(
    conn: Connection, f: CaseFilter, *, today: date, page: int = 1, page_size: int = PAGE_SIZE
) -> Page:
    """One page of cases, newest business day first, with money columns and ages."""
    stmt = (
        select(*CASE_LIST_COLUMNS)
        .select_from(ink_case.join(ink_agreement, CASE_AGREEMENT))
        .where(and_(true(), *_case_where(conn, f, today)))
    )
    rows, has_next, total, capped = _paged(
        conn,
        stmt,
        [ink_case.c.business_date.desc(), ink_case.c.case_id.desc()],
        page,
        page_size,
    )
    _add_case_columns(conn, rows, today)
    return Page(rows, max(page, 1), page_size, has_next, total, capped)


def _by_id(conn: Connection, table, key: str, ids: list, *columns) -> dict:
    """Rows of ``table`` whose ``key`` is one of ``ids`` (only ``columns``), by that key."""
    id_column = table.c[key]
    stmt = select(id_column, *(table.c[c] for c in columns)).where(id_column.in_(ids))
    return {r[key]: r for r in conn.execute(stmt).mappings()}


def _add_case_columns(conn: Connection, rows: list[dict], today: date) -> None:
    """Complete a page of cases: money, invoice and customer numbers, ages, masked reference."""
    money = _books(conn, [r["case_id"] for r in rows])
    invoices = _by_id(
        conn, erp_invoice, "invoice_id", [r["invoice_id"] for r in rows], "invoice_no"
    )
    customers = _by_id(
        conn,
        erp_customer,
        "customer_id",
        [r["customer_id"] for r in rows],
        "customer_no",
        "name",
    )
    for r in rows:
        r.update(money.get(r["case_id"]) or _unbooked(r))
        inv = invoices.get(r["invoice_id"])
        cust = customers.get(r["customer_id"])
        # the agency's own text: an id-shaped reference is shown masked like any other id
        r["agency_case_ref"] = mask_text(r["agency_case_ref"])
        r["invoice_no"] = inv["invoice_no"] if inv else ""
        r["customer_no"] = cust["customer_no"] if cust else ""
        r["customer_name"] = cust["name"] if cust else ""
        r["days_since_sent"] = (today - r["business_date"]).days
        waiting = r["status"] == "sent"
        r["receipt_age"] = r["days_since_sent"] if waiting else None
        r["receipt_late"] = waiting and r["days_since_sent"] > STALE_DAYS


def _first(conn: Connection, stmt) -> dict:
    """The first row of ``stmt`` as a dict ({} when there is none)."""
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row else {}


def _all(conn: Connection, stmt) -> list[dict]:
    """Every row of ``stmt`` as a dict."""
    return [dict(r) for r in conn.execute(stmt).mappings()]


def case_detail(conn: Connection, case_id: int, *, today: date) -> dict | None:
    """A case with its invoice, customer (id masked), address as sent, money and timeline."""
    result = _first(
        conn,
        select(ink_case, ink_agreement.c.client_id, ink_agreement.c.agency)
        .select_from(ink_case.join(ink_agreement, CASE_AGREEMENT))
        .where(ink_case.c.case_id == case_id),
    )
    if not result:
        return None
    result["invoice"] = _first(
        conn, select(erp_invoice).where(erp_invoice.c.invoice_id == result["invoice_id"])
    )
    cust = _first(
        conn, select(erp_customer).where(erp_customer.c.customer_id == result["customer_id"])
    )
    if cust:
        cust["national_id"] = mask_id(cust["national_id"])
    result["customer"] = cust
    result["client_name"] = conn.execute(
        select(erp_client.c.name).where(erp_client.c.client_id == result["client_id"])
    ).scalar()
    events = _case_events(conn, case_id)
    result["events"] = events
    result["address_rule"] = next(
        (
            m.group(1)
            for e in events
            if e["kind"] == "opened" and (m := re.search(r"address: (\S+)", e["detail"] or ""))
        ),
        "",
    )
    result["corrections"] = _all(conn, _case_corrections_query(case_id))
    result["after_closure"] = _all(
        conn,
        select(ink_after_closure)
        .where(ink_after_closure.c.case_id == case_id)
        .order_by(ink_after_closure.c.event_date, ink_after_closure.c.event_id),
    )
    result["money"] = _books(conn, [case_id]).get(case_id) or _unbooked(result)
    result["days_since_sent"] = (today - result["business_date"]).days
    result["rejection_reason"] = mask_text(result["rejection_reason"])
    result["agency_case_ref"] = mask_text(result["agency_case_ref"])
    return result


def _case_events(conn: Connection, case_id: int) -> list[dict]:
    """A case's timeline with the file of each event, details masked."""
    e = ink_case_event.c
    events = _all(
        conn,
        select(
            e.event_id,
            e.at,
            e.kind,
            e.detail,
            e.file_id,
            ink_file_log.c.file_name,
            ink_file_log.c.direction,
        )
        .select_from(ink_case_event.outerjoin(ink_file_log))
        .where(e.case_id == case_id)
        .order_by(e.at, e.event_id),
    )
    for event in events:
        event["detail"] = mask_text(event["detail"])
    return events


def _case_corrections_query(case_id: int):
    """A case's corrections with the file each went in, in date order."""
    c = ink_correction.c
    return (
        select(c.correction_type, c.amount, c.correction_date, c.file_id, ink_file_log.c.file_name)
        .select_from(ink_correction.outerjoin(ink_file_log))
        .where(c.case_id == case_id)
        .order_by(c.correction_date, c.correction_id)
    )


def _file_where(f: FileFilter) -> list:
    conds = []
    if f.agreement_id:
        conds.append(ink_file_log.c.agreement_id == f.agreement_id)
    if f.client_id is not None:
        conds.append(ink_file_log.c.client_id == f.client_id)
    if f.direction:
        conds.append(ink_file_log.c.direction == f.direction)
    if f.status:
        conds.append(ink_file_log.c.status == f.status)
    if f.kind:
        conds.append(ink_file_log.c.kind == f.kind)
    if f.date_from:
        conds.append(ink_file_log.c.business_date >= f.date_from)
    if f.date_to:
        conds.append(ink_file_log.c.business_date <= f.date_to)
    if f.name:
        conds.append(ink_file_log.c.file_name.contains(f.name.strip(), autoescape=True))
    return conds


FILE_LIST_COLUMNS = (
    "file_id",
    "client_id",
    "agreement_id",
    "direction",
    "kind",
    "file_name",
    "business_date",
    "status",
    "sha256",
    "size_bytes",
    "record_count",
    "amount_total",
    "run_id",
    "created_at",
    "delivered_at",
    "handled_state",
    "handled_by",
    "handled_at",
)


def list_files(
    conn: Connection, f: FileFilter, *, page: int = 1, page_size: int = PAGE_SIZE
) -> Page:
    """One page of the file log, newest business day first, with each file's issue count."""
    issues = (
        select(func.count())
        .where(ink_file_issue.c.file_id == ink_file_log.c.file_id)
        .scalar_subquery()
        .label("issue_count")
    )
    stmt = select(*[ink_file_log.c[c] for c in FILE_LIST_COLUMNS], issues).where(
        and_(true(), *_file_where(f))
    )
    rows, has_next, total, capped = _paged(
        conn,
        stmt,
        [ink_file_log.c.business_date.desc(), ink_file_log.c.file_id.desc()],
        page,
        page_size,
    )
    return Page(rows, max(page, 1), page_size, has_next, total, capped)


def file_detail(conn: Connection, file_id: int) -> dict | None:
    """A file log row with its issues (reasons masked) and its cases' count."""
    row = (
        conn.execute(select(ink_file_log).where(ink_file_log.c.file_id == file_id))
        .mappings()
        .first()
    )
    if row is None:
        return None
    result = dict(row)
    result["detail"] = mask_text(row["detail"])
    result["handled_note"] = mask_text(row["handled_note"])
    result["issues"] = [
        dict(i) | {"reason": mask_text(i["reason"])}
        for i in conn.execute(
            select(ink_file_issue)
            .where(ink_file_issue.c.file_id == file_id)
            .order_by(ink_file_issue.c.line, ink_file_issue.c.issue_id)
        ).mappings()
    ]
    result["event_count"] = conn.execute(
        select(func.count()).where(ink_case_event.c.file_id == file_id)
    ).scalar_one()
    return result


def decode_file(data: bytes) -> list[str]:
    """The lines of an agency or bank file (UTF-8, else Latin-1 as the Nordic formats use)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("latin-1")
    return text.splitlines()


def file_layout(conn: Connection, row: dict):
    """The layout of a logged agency file (its agreement's agency and its kind), or None (a
    bank file, a kind or agency without one)."""
    from inkasso.formats.errors import LayoutError
    from inkasso.formats.profile import load_profile

    if not row.get("agreement_id"):
        return None
    agency = conn.execute(
        select(ink_agreement.c.agency).where(ink_agreement.c.agreement_id == row["agreement_id"])
    ).scalar()
    try:
        return load_profile(agency).file(row["kind"]).load_layout() if agency else None
    except (LayoutError, KeyError, OSError):
        return None


def mask_id_fields(lines: list[str], layout) -> list[str]:
    """``lines`` of a fixed-width file with each record's ``national_id`` field masked by its
    position: a 12-digit personnummer filling its field runs into the next field's digits (a
    street starting with a number) and free-text masking cannot tell where it ends."""
    if layout is None or layout.kind != "fixed":
        return lines
    start, width = layout.code_start - 1, layout.code_width
    spans = {
        rec.code: [(f.start - 1, f.width) for f in rec.fields if f.name == "national_id"]
        for rec in layout.records.values()
    }
    masked = []
    for line in lines:
        for at, size in spans.get(line[start : start + width], ()):
            value = line[at : at + size].strip()
            if value:
                cell = line[at : at + size].replace(value, mask_id(value), 1)
                line = line[:at] + cell + line[at + size :]
        masked.append(line)
    return masked


def issue_lines(lines: list[str], issues: list[dict]) -> list[dict]:
    """Each issue beside the offending line's text (national ids masked)."""
    shown = []
    for issue in issues:
        number = issue.get("line")
        text = lines[number - 1] if number and 0 < number <= len(lines) else ""
        shown.append(issue | {"text": mask_text(text)})
    return shown


def _latest_dispatch_days():
    """Per agreement, the day of its latest dispatch (``day``): the latest day with holds or
    with a new-cases file (a subquery)."""
    days = union_all(
        select(ink_dispatch_hold.c.agreement_id, ink_dispatch_hold.c.business_date),
        select(ink_file_log.c.agreement_id, ink_file_log.c.business_date).where(
            ink_file_log.c.kind == "new_cases", ink_file_log.c.direction == "out"
        ),
    ).subquery()
    return (
        select(days.c.agreement_id, func.max(days.c.business_date).label("day"))
        .group_by(days.c.agreement_id)
        .subquery()
    )


def holds_summary(conn: Connection, *, client_id: int | None, business_date: date | None) -> dict:
    """Invoices held back by client, agreement and reason, with counts and amounts per currency.

    Holds are replaced by each dispatch run of an agreement and day, so "waiting now" is the
    holds of each agreement's latest dispatch: the latest day with holds or with a new-cases
    file (a later dispatch that sent cases and held nothing back leaves no holds to show);
    ``business_date`` shows one day instead.

    Amounts are those each invoice had when held (``ink_dispatch_hold.amount``, ``currency``,
    kept since migration 0013), as that day's mail gives them, summed per currency only; a hold
    recorded before 0013 counts what is left on its invoice now (``amount_now``).
    """
    latest = _latest_dispatch_days()
    h = ink_dispatch_hold
    base = h.join(ink_agreement, ink_agreement.c.agreement_id == h.c.agreement_id).outerjoin(
        erp_invoice, erp_invoice.c.invoice_id == h.c.invoice_id
    )
    if business_date is None:
        base = base.join(
            latest,
            and_(latest.c.agreement_id == h.c.agreement_id, latest.c.day == h.c.business_date),
        )
        day_cond = true()
    else:
        day_cond = h.c.business_date == business_date
    client_cond = true() if client_id is None else ink_agreement.c.client_id == client_id
    amount, currency = held_amount()
    groups = conn.execute(
        select(
            ink_agreement.c.client_id,
            h.c.agreement_id,
            h.c.business_date,
            h.c.reason,
            currency.label("currency"),
            func.count().label("invoices"),
            func.coalesce(func.sum(amount), 0).label("amount"),
            func.coalesce(func.sum(case((h.c.amount.is_(None), 1), else_=0)), 0).label("now"),
        )
        .select_from(base)
        .where(day_cond, client_cond)
        .group_by(
            ink_agreement.c.client_id, h.c.agreement_id, h.c.business_date, h.c.reason, currency
        )
        .order_by(ink_agreement.c.client_id, h.c.agreement_id, h.c.reason, currency)
    ).mappings()
    groups = [
        {k: v for k, v in g.items() if k != "now"}
        | {"amount": int(g["amount"]), "amount_now": bool(g["now"])}
        for g in groups
    ]
    return {"groups": groups, "base": base, "where": [day_cond, client_cond]}


def held_amount():
    """A hold's amount and currency as recorded when held (since 0013), else the invoice's now
    (a hold recorded before 0013 kept none)."""
    h, i = ink_dispatch_hold.c, erp_invoice.c
    return func.coalesce(h.amount, i.remaining_amount), func.coalesce(h.currency, i.currency)


def list_holds(
    conn: Connection,
    *,
    client_id: int | None,
    business_date: date | None,
    reason: str | None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> tuple[list[dict], Page]:
    """The summary groups and one page of the held invoices (details masked), each with the
    amount it was held with (``amount_now``: a hold before 0013, the invoice's amount now)."""
    summary = holds_summary(conn, client_id=client_id, business_date=business_date)
    h = ink_dispatch_hold
    amount, currency = held_amount()
    stmt = (
        select(
            ink_agreement.c.client_id,
            h.c.agreement_id,
            h.c.business_date,
            h.c.invoice_id,
            h.c.reason,
            h.c.detail,
            erp_invoice.c.invoice_no,
            amount.label("amount"),
            currency.label("currency"),
            h.c.amount.is_(None).label("amount_now"),
            erp_invoice.c.due_date,
            erp_customer.c.customer_no,
            erp_customer.c.name.label("customer_name"),
        )
        .select_from(
            summary["base"].outerjoin(erp_customer, erp_customer.c.customer_id == h.c.customer_id)
        )
        .where(*summary["where"])
    )
    if reason:
        stmt = stmt.where(h.c.reason == reason)
    rows, has_next, total, capped = _paged(
        conn, stmt, [h.c.agreement_id, h.c.reason, h.c.invoice_id], page, page_size
    )
    for r in rows:
        r["detail"] = mask_text(r["detail"])
        r["amount_now"] = bool(r["amount_now"])
    return summary["groups"], Page(rows, max(page, 1), page_size, has_next, total, capped)


def list_payouts(
    conn: Connection,
    *,
    agreement_id: str | None,
    reconciliation: str | None,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> Page:
    """One page of agency payouts with their reconciliation against the settlement."""
    stmt = select(
        ink_payout,
        ink_agreement.c.client_id,
        ink_agreement.c.agency,
        erp_payment.c.bank_file,
        erp_payment.c.reference,
        erp_client.c.currency,
    ).select_from(
        ink_payout.join(ink_agreement)
        .outerjoin(erp_payment, erp_payment.c.payment_id == ink_payout.c.payment_id)
        .outerjoin(erp_client, erp_client.c.client_id == ink_agreement.c.client_id)
    )
    if agreement_id:
        stmt = stmt.where(ink_payout.c.agreement_id == agreement_id)
    if reconciliation:
        stmt = stmt.where(ink_payout.c.reconciliation == reconciliation)
    rows, has_next, total, capped = _paged(
        conn,
        stmt,
        [ink_payout.c.payment_date.desc(), ink_payout.c.payout_id.desc()],
        page,
        page_size,
    )
    for r in rows:
        r["detail"] = mask_text(r["detail"])
        settled = r["settled_amount"]
        r["difference"] = None if settled is None else int(r["amount"]) - int(settled)
    return Page(rows, max(page, 1), page_size, has_next, total, capped)


def interim_balances(conn: Connection) -> list[dict]:
    """Per client and interim account, once: its balance (debit - credit) in the ledger and the
    agreements booked on it.

    Settlement mode debits it when a closure is booked and credits it when the payout arrives;
    a balance is money the agency collected and has not paid out yet. Agreements of one client
    on the same account (Lowell and Intrum on the default 1684) share its money, so the account
    is one row naming them all (``agreements``: id, agency, booking mode; ``shared``: more than
    one), as the daily mail gives it once: never the same money on two rows. ``currency`` is
    the client's.
    """
    a, c, j = ink_agreement.c, erp_client.c, erp_journal_line.c
    accounts: dict[tuple, dict] = {}
    for r in conn.execute(
        select(a.agreement_id, a.client_id, a.agency, a.interim_account, a.booking_mode)
        .add_columns(c.name.label("client_name"), c.currency)
        .select_from(ink_agreement.outerjoin(erp_client, c.client_id == a.client_id))
        .order_by(a.client_id, a.interim_account, a.agreement_id)
    ).mappings():
        account = accounts.setdefault(
            (r["client_id"], r["interim_account"]),
            {k: r[k] for k in ("client_id", "client_name", "currency", "interim_account")}
            | {"agreements": []},
        )
        account["agreements"].append({k: r[k] for k in ("agreement_id", "agency", "booking_mode")})
    balances = {
        (r.client_id, r.account): (int(r.debit or 0), int(r.credit or 0))
        for r in conn.execute(
            select(
                j.client_id,
                j.account,
                func.sum(j.debit).label("debit"),
                func.sum(j.credit).label("credit"),
            )
            .where(j.account.in_({key[1] for key in accounts} or {""}))
            .group_by(j.client_id, j.account)
        )
    }
    for key, account in accounts.items():
        debit, credit = balances.get(key, (0, 0))
        account.update(debit=debit, credit=credit, balance=debit - credit)
        account["shared"] = len(account["agreements"]) > 1
    return list(accounts.values())


def interim_totals(accounts: list[dict]) -> list[dict]:
    """The interim accounts' debit, credit and balance added up per currency (each account
    once; never one currency's money in another's total), by currency."""
    totals: dict[str, dict] = {}
    for account in accounts:
        currency = account["currency"] or ""
        total = totals.setdefault(
            currency, {"currency": currency, "accounts": 0, "debit": 0, "credit": 0, "balance": 0}
        )
        total["accounts"] += 1
        for k in ("debit", "credit", "balance"):
            total[k] += account[k]
    return [totals[k] for k in sorted(totals)]


def list_after_closure(
    conn: Connection, *, agreement_id: str | None, page: int = 1, page_size: int = PAGE_SIZE
) -> Page:
    """One page of money that moved after a case ended (refunds and over-payments)."""
    stmt = select(ink_after_closure, ink_case.c.currency, erp_invoice.c.invoice_no).select_from(
        ink_after_closure.join(ink_case).outerjoin(
            erp_invoice, erp_invoice.c.invoice_id == ink_after_closure.c.invoice_id
        )
    )
    if agreement_id:
        stmt = stmt.where(ink_after_closure.c.agreement_id == agreement_id)
    rows, has_next, total, capped = _paged(
        conn,
        stmt,
        [ink_after_closure.c.business_date.desc(), ink_after_closure.c.event_id.desc()],
        page,
        page_size,
    )
    return Page(rows, max(page, 1), page_size, has_next, total, capped)


def recent_actions(conn: Connection, limit: int = 20) -> list[dict]:
    """The latest actions people asked for in the view (who, when, which run)."""
    return [
        dict(a)
        for a in conn.execute(
            select(ink_ui_action)
            .order_by(ink_ui_action.c.at.desc(), ink_ui_action.c.action_id.desc())
            .limit(limit)
        ).mappings()
    ]
