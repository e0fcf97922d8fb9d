"""Agency payouts found in bank files: logged, booked against the interim account, reconciled.

A payout is a payment whose payer account is an agreement's ``agency_bank_account``: the agency
handing over what it collected. When several agreements of the client are paid from one account
(an old and a new agreement with the same agency), a payout by an invoice's KID is the agreement's
of the invoice's latest case among them; one naming no such invoice goes to the first of them,
active before inactive, then by id, and is counted and logged (``payouts_picked``). How it is
booked depends on the agreement's ``booking_mode``:

* ``bank``: the agency pays each collected amount with the invoice's KID. The bank import has
  booked it on the invoice already (``erp_payment`` kind ``collection``); here it is logged in
  ``ink_payout`` with its case.
* ``settlement``: the closure booked the invoices against the interim account (default 1684); the
  agency's lump payout is booked bank (1920) debit / interim account credit, ``source_ref``
  ``payout:<payment_id>`` (a rerun books nothing twice), so the interim account nets to zero.

Reconciliation compares each payout with the settlement it pays: the agency's collections
(``ink_collection``, the change in a case's collected amount per closure record) since the
previous payout: a collection is paid by the first payout dated on or after its closure date, of
the same agreement (lump) or the same case (per invoice). Agencies also pay first and send the
closure a day later: a payout day with no collection up to it paid ahead, and pays the
collections of the next closure date instead, when that is dated within ``PAYOUT_GRACE_DAYS``
after it and no payout is dated on its own day (that one pays it; several days paid ahead pay
the next closure dates in turn). Each payout gets ``matched``,
``differs`` (with the difference) or ``missing`` (no collection to pay), with the closure dates it
covers. Collections with no payout yet are awaiting one; older than ``PAYOUT_GRACE_DAYS`` they
are returned as missing payouts. It recomputes from the tables every time, so a late closure or a
late payout corrects the verdicts on the next run.
"""

from __future__ import annotations

import logging
from collections import deque
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import Connection, Select, and_, bindparam, func, select, text, update

from inkasso.bank.names import erp_names
from inkasso.bank.record import MATCH
from inkasso.db.schema import erp_payment, ink_agreement, ink_collection, ink_file_log, ink_payout
from inkasso.money.amounts import format_money, plain_date
from inkasso.sql import query

log = logging.getLogger(__name__)

BANK_ACCOUNT = "1920"
BANK_KINDS = ("ocr_giro", "bgmax")
PAYOUT_GRACE_DAYS = 2
LUMP = -1  # the case key of a lump payout and of the collections it pays


def agency_accounts(conn: Connection, client_id: int) -> dict[str, str]:
    """The client's agreements (active or not: old payouts still arrive) -> agency bank account,
    active ones first, then by id: of several paid from one account, a payout no invoice's case
    attributes goes to the first (`record.mark_payouts`)."""
    a = ink_agreement.c
    rows = conn.execute(
        select(a.agreement_id, a.agency_bank_account)
        .where(a.client_id == client_id)
        .order_by(a.active.desc(), a.agreement_id)
    ).all()
    return {agreement: account for agreement, account in rows}


def log_payouts(conn: Connection, client_id: int, bank_file: str) -> dict:
    """Add the file's payouts to ``ink_payout`` and book the lump ones where the mode says so.

    Reads the file's payments as `book_staged` matched them (``MATCH``: call it before
    `drop_stage`); the payouts are written in one ``INSERT ... SELECT``. Returns the count and
    sum of payouts, how many journal lines were written and how many payouts were given to an
    agreement by their account alone though several agreements are paid from it
    (``payouts_picked``: no invoice of their cases named; logged as a warning).
    """
    params = {"bank_file": bank_file, "client_id": client_id}
    count, amount, picked = conn.execute(
        text(
            f"SELECT COUNT(*), COALESCE(SUM(amount), 0), COALESCE(SUM(payout_picked), 0) "
            f"FROM {MATCH} WHERE payout_agreement_id IS NOT NULL"
        )
    ).one()
    if not count:
        return {"payouts": 0, "payout_amount": 0, "journal_lines": 0, "payouts_picked": 0}
    if picked:
        log.warning(
            "client %s: %s: %s payout(s) from an account several agreements are paid from name"
            " no invoice of their cases; each given to the first of them (active first, then"
            " by id): see ink_payout",
            client_id, bank_file, picked,
        )  # fmt: skip
    conn.execute(query("erp/insert_bank_file_payouts"), params)
    lines = []
    for payout in conn.execute(query("erp/select_bank_file_settlements"), params).mappings():
        day = plain_date(payout["payment_date"])
        note = f"Payout {payout['agency']} ({payout['agreement_id']}) {day}"
        common = {
            "client_id": client_id,
            "journal_date": day,
            "text": note[:200],
            "source_ref": f"payout:{payout['payment_id']}",
        }
        lines += [
            common | {"account": BANK_ACCOUNT, "debit": int(payout["amount"]), "credit": 0},
            common
            | {
                "account": payout["interim_account"] or "1684",
                "debit": 0,
                "credit": int(payout["amount"]),
            },
        ]
    written = conn.execute(query("erp/insert_journal_line"), lines).rowcount if lines else 0
    return {
        "payouts": int(count),
        "payout_amount": int(amount),
        "journal_lines": max(int(written), 0) if lines else 0,
        "payouts_picked": int(picked),
    }


def _known_by(agreement_ids: list[str], day: date) -> tuple[Select, Select]:
    """(payment ids, file ids) of what the agreements' client knew at the end of ``day``: the
    payments of its bank files and its files logged for that day or before."""
    f = ink_file_log.c
    clients = select(ink_agreement.c.client_id).where(
        ink_agreement.c.agreement_id.in_(agreement_ids)
    )
    files = select(f.file_id).where(f.client_id.in_(clients), f.business_date <= day)
    bank_files = files.where(f.direction == "in", f.kind.in_(BANK_KINDS))
    payments = select(erp_payment.c.payment_id).where(
        erp_payment.c.client_id.in_(clients), erp_payment.c.bank_file.in_(erp_names(bank_files))
    )
    return payments, files


def _frames(conn: Connection, agreement_ids: list[str], through: date, known_by=None):
    """Payout days and collections of the agreements up to ``through``, keyed by case (or LUMP);
    with ``known_by`` (a day) only those its files had brought by the end of that day."""
    modes = dict(
        conn.execute(
            select(ink_agreement.c.agreement_id, ink_agreement.c.booking_mode).where(
                ink_agreement.c.agreement_id.in_(agreement_ids)
            )
        ).all()
    )
    p, c = ink_payout.c, ink_collection.c
    payout_rows = select(p.payout_id, p.agreement_id, p.case_id, p.amount, p.payment_date).where(
        p.agreement_id.in_(agreement_ids), p.payment_date <= through
    )
    collection_rows = select(c.agreement_id, c.case_id, c.amount, c.closure_date).where(
        c.agreement_id.in_(agreement_ids), c.closure_date <= through, c.amount != 0
    )
    if known_by is not None:
        payments, files = _known_by(agreement_ids, known_by)
        payout_rows = payout_rows.where(p.payment_id.in_(payments))
        collection_rows = collection_rows.where(c.file_id.in_(files))
    payouts = pd.DataFrame(
        conn.execute(payout_rows).all(),
        columns=["payout_id", "agreement_id", "case_id", "amount", "day"],
    )
    collections = pd.DataFrame(
        conn.execute(collection_rows).all(),
        columns=["agreement_id", "case_id", "amount", "closure_date"],
    )
    payouts["key"] = payouts["case_id"].fillna(LUMP).astype("int64")
    per_case = collections["agreement_id"].map(modes).eq("bank")
    collections["key"] = collections["case_id"].where(per_case, LUMP).astype("int64")
    for frame, col in ((payouts, "day"), (collections, "closure_date")):
        # the same dtypes on both sides whatever the driver returns (merge_asof insists)
        frame[col] = pd.to_datetime(frame[col].map(plain_date) if len(frame) else frame[col])
        frame["agreement_id"] = frame["agreement_id"].astype(object)
    return payouts, collections


def _cover(payouts: pd.DataFrame, collections: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per payout day (agreement, key, day): paid and settled sums, and the collections unpaid."""
    days = (
        payouts.groupby(["agreement_id", "key", "day"], as_index=False)
        .agg(paid=("amount", "sum"), payouts=("payout_id", "count"))
        .sort_values("day")
    )
    if collections.empty:
        days["settled"], days["covers_from"], days["covers_to"], days["cases"] = 0, None, None, 0
        return days, collections.assign(day=pd.NaT)
    right = days[["agreement_id", "key", "day"]].assign(pay_day=days["day"])
    right["agreement_id"] = right["agreement_id"].astype(object)
    coll = pd.merge_asof(
        collections.sort_values("closure_date").astype({"agreement_id": object}),
        right,
        left_on="closure_date",
        right_on="day",
        by=["agreement_id", "key"],
        direction="forward",
    )
    coll = _paid_ahead(coll, days)
    paid = coll[coll["pay_day"].notna()]
    sums = paid.groupby(["agreement_id", "key", "pay_day"], as_index=False).agg(
        settled=("amount", "sum"),
        covers_from=("closure_date", "min"),
        covers_to=("closure_date", "max"),
        cases=("case_id", "nunique"),
    )
    # nullable integers: a payout day with nothing to pay gets <NA>, never a float NaN
    sums = sums.astype({"settled": "Int64", "cases": "Int64"})
    days = days.merge(
        sums.rename(columns={"pay_day": "day"}), on=["agreement_id", "key", "day"], how="left"
    )
    days["settled"] = days["settled"].fillna(0).astype("int64")
    days["cases"] = days["cases"].fillna(0).astype("int64")
    return days, coll[coll["pay_day"].isna()]


def _paid_ahead(coll: pd.DataFrame, days: pd.DataFrame) -> pd.DataFrame:
    """The collections with the payout day that pays them, also when the agency paid before the
    closure reporting them (see module doc). ``coll`` has each collection's first payout day on
    or after its closure date (``pay_day``); only the few (agreement, key)s with a payout day
    that pays none of them are walked again, in date order (`_walk`)."""
    keys = ["agreement_id", "key"]
    used = coll.loc[coll["pay_day"].notna(), [*keys, "pay_day"]].drop_duplicates()
    idle = days[keys + ["day"]].merge(
        used.rename(columns={"pay_day": "day"}), on=[*keys, "day"], how="left", indicator=True
    )
    idle = idle.loc[idle["_merge"] == "left_only", keys].drop_duplicates()
    if idle.empty:
        return coll
    coll = coll.copy()
    redo = coll.reset_index().merge(idle, on=keys)["index"]
    pay_days = days.merge(idle, on=keys).groupby(keys)["day"].apply(sorted)
    for (agreement, key), group in coll.loc[redo].groupby(keys):
        plan = _walk(pay_days[(agreement, key)], sorted(set(group["closure_date"])))
        coll.loc[group.index, "pay_day"] = (
            group["closure_date"].map(plan).astype(coll["pay_day"].dtype)
        )
    return coll


def _walk(pay_days: list, closure_dates: list) -> dict:
    """Closure date -> the payout day that pays it, for one agreement and key (sorted days): a
    payout day pays the closure dates not yet paid up to it; with none it paid ahead, and pays
    the next closure date within the grace days that has no payout of its own day (in turn,
    when several paid ahead)."""
    grace, paying = pd.Timedelta(days=PAYOUT_GRACE_DAYS), set(pay_days)
    plan, unpaid, ahead = {}, [], deque()
    # a closure dated on a payout day comes first: that payout pays it
    for day, is_payout in sorted([(d, 0) for d in closure_dates] + [(d, 1) for d in pay_days]):
        if is_payout:
            if unpaid:
                plan.update(dict.fromkeys(unpaid, day))
                unpaid = []
            else:
                ahead.append(day)
            continue
        while ahead and ahead[0] < day - grace:
            ahead.popleft()  # paid too long before any closure: stays a payout with nothing
        if ahead and day not in paying:
            plan[day] = ahead.popleft()
        else:
            unpaid.append(day)
    return plan


def _verdict(row) -> tuple[str, str]:
    paid, settled = int(row.paid), int(row.settled)
    what = f"case {row.key}" if row.key != LUMP else f"{int(row.cases)} cases"
    if pd.isna(row.covers_from):
        return "missing", f"paid {format_money(paid)}: no collection by the agency to pay"
    span = f"closures {row.covers_from.date()}..{row.covers_to.date()}, {what}"
    if paid == settled:
        return "matched", f"paid {format_money(paid)} = collected {format_money(settled)} ({span})"
    return "differs", (
        f"paid {format_money(paid)}, collected {format_money(settled)} ({span}): "
        f"difference {format_money(paid - settled)}"
    )


def reconcile_payouts(conn: Connection, agreement_ids: list[str], business_date: date) -> dict:
    """Reconcile every payout of the agreements up to ``business_date`` (see module doc).

    Returns counts per verdict (payouts, not days) and the collections still waiting for a
    payout after the grace days (``missing_payouts``: agreement, case or None, dates, amount).
    """
    business_date = plain_date(business_date)
    outcome = {"matched": 0, "differs": 0, "missing": 0, "missing_payouts": []}
    if not agreement_ids:
        return outcome
    payouts, collections = _frames(conn, agreement_ids, business_date)
    days, unpaid = _cover(payouts, collections)
    updates = []
    for row in days.itertuples(index=False):
        status, detail = _verdict(row)
        outcome[status] += int(row.payouts)
        updates.append(
            {
                "b_agreement": row.agreement_id,
                "b_day": row.day.date(),
                "b_key": int(row.key),
                "b_status": status,
                "b_settled": int(row.settled),
                "b_from": None if pd.isna(row.covers_from) else row.covers_from.date(),
                "b_to": None if pd.isna(row.covers_to) else row.covers_to.date(),
                "b_detail": detail,
            }
        )
    _write_verdicts(conn, updates)
    outcome["missing_payouts"] = _late(unpaid, business_date)
    return outcome


def _late(unpaid: pd.DataFrame, business_date: date) -> list[dict]:
    """Collections older than the grace days with no payout, per agreement and case (or lump)."""
    cutoff = pd.Timestamp(business_date - timedelta(days=PAYOUT_GRACE_DAYS))
    late = unpaid[unpaid["closure_date"] < cutoff]
    return [
        {
            "agreement_id": agreement_id,
            "case_id": None if key == LUMP else int(key),
            "from": group["closure_date"].min().date().isoformat(),
            "to": group["closure_date"].max().date().isoformat(),
            "amount": int(group["amount"].sum()),
        }
        for (agreement_id, key), group in late.groupby(["agreement_id", "key"], sort=True)
    ]


def missing_payouts(
    conn: Connection, agreement_ids: list[str], business_date: date, known_by=None
) -> list:
    """Read-only: the collections still waiting for a payout after the grace days (with
    ``known_by``: as that day's files left them, see `_frames`)."""
    business_date = plain_date(business_date)
    if not agreement_ids:
        return []
    payouts, collections = _frames(conn, agreement_ids, business_date, known_by)
    return _late(_cover(payouts, collections)[1], business_date)


def verdicts_as_of(conn: Connection, agreement_ids: list[str], day: date) -> dict:
    """Read-only: the reconciliation of every payout of the agreements as the files logged up to
    ``day`` left it (a report of an earlier day must not show a verdict a later closure or
    payout changed): payout id -> reconciliation, settled (of its payout day), detail."""
    day = plain_date(day)
    if not agreement_ids:
        return {}
    payouts, collections = _frames(conn, agreement_ids, day, known_by=day)
    days, _ = _cover(payouts, collections)
    if payouts.empty:
        return {}
    merged = payouts.merge(days, on=["agreement_id", "key", "day"], how="left")
    out = {}
    for row in merged.itertuples(index=False):
        status, detail = _verdict(row)
        out[int(row.payout_id)] = {
            "reconciliation": status,
            "settled": int(row.settled),
            "detail": detail,
            "payout_day": (row.agreement_id, int(row.key), row.day.date()),
        }
    return out


def _write_verdicts(conn: Connection, updates: list[dict]) -> None:
    """One executemany: the verdict of every payout of a payout day."""
    if not updates:
        return
    p = ink_payout.c
    conn.execute(
        update(ink_payout)
        .where(
            and_(
                p.agreement_id == bindparam("b_agreement"),
                p.payment_date == bindparam("b_day"),
                func.coalesce(p.case_id, LUMP) == bindparam("b_key"),
            )
        )
        .values(
            reconciliation=bindparam("b_status"),
            settled_amount=bindparam("b_settled"),
            covers_from=bindparam("b_from"),
            covers_to=bindparam("b_to"),
            detail=bindparam("b_detail"),
        ),
        updates,
    )
