"""The demo's bank: one payment file per client and day in the client's bank drop.

Norwegian clients get a Nets OCR giro file (written with netsgiro), Swedish ones a BgMax file
(written with the format engine's ``bgmax`` layout). Each holds:

* debtors paying open invoices by KID / OCR reference (mostly in full, some in part);
* now and then a debtor paying an invoice already at collection (a direct payment the
  corrections flow must report to the agency);
* now and then a payment with a reference that fits no invoice (unmatched);
* now and then a debtor paying an invoice whose case the agency already closed as paid (the
  debtor paid twice: an over-payment the report shows as a refund to handle);
* the agencies' payouts, paid from ``agency_bank_account``, the way the agreement's booking mode
  expects: in ``bank`` mode each case's collected amount not yet paid out, with the invoice's
  KID; in ``settlement`` mode one lump payout per settlement day (closure date) of the last week
  not yet paid out, about one in four short by a fee, so that the reconciliation shows a
  difference.

Deterministic from (seed, day) and the database's state; a day's file, once in the drop, is kept
as it is (calling again for the same day writes nothing). Files are written through a hidden
temporary name and a rename, under an exclusive lock (``<base>/bank/.demo-bank.lock``) that the
demo DAG's ERP step holds too: the bank service (``python -m inkasso_demo.simulator.bank_service``)
and the demo DAG may write the same day at the same time, and only one of them writes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import pandas as pd
from sqlalchemy import Engine, func, select

from inkasso.bank.model import payments_frame
from inkasso.db.schema import (
    erp_client,
    erp_invoice,
    erp_payment,
    ink_agreement,
    ink_case,
    ink_collection,
    ink_payout,
)
from inkasso.sql import query
from inkasso_demo.erp.ids import invalidate, payment_reference
from inkasso_demo.simulator.locking import file_lock, local_path, write_atomic

PAYOUT_LOOKBACK_DAYS = 7
FEES = (2500, 5000, 12500)  # øre / öre an agency may keep back from a payout


@dataclass(frozen=True)
class BankFileWritten:
    """One bank file the demo's bank put in a drop."""

    client_id: int
    path: str
    format: str
    payments: int
    payouts: int
    amount: int
    written: bool  # False: the day's file was already there


def bank_file_name(client_id: int, country: str, day: date) -> str:
    """The drop file name of a client's bank file of ``day``."""
    kind = "OCR" if country == "NO" else "BGMAX"
    return f"{kind}.{client_id}.{day:%Y%m%d}.txt"


def bank_lock(base):
    """The lock the demo bank and the demo DAG's ERP step hold (None when ``base`` is remote)."""
    folder = local_path(base)
    return file_lock(None if folder is None else folder / "bank" / ".demo-bank.lock")


def write_bank_files(engine: Engine, base, day: date, seed: int = 42) -> list[BankFileWritten]:
    """Write each client's bank file of ``day`` into ``<base>/bank/<client_id>/`` (see module doc)."""
    with bank_lock(base):
        return _write_bank_files(engine, base, day, seed)


def _write_bank_files(engine: Engine, base, day: date, seed: int) -> list[BankFileWritten]:
    with engine.connect() as conn:
        clients = conn.execute(
            select(erp_client.c.client_id, erp_client.c.country, erp_client.c.currency,
                   erp_client.c.default_bank_account).order_by(erp_client.c.client_id)
        ).all()  # fmt: skip
    written = []
    for client in clients:
        folder = base / "bank" / str(client.client_id)
        path = folder / bank_file_name(client.client_id, client.country, day)
        if path.exists():
            written.append(BankFileWritten(client.client_id, str(path), "", 0, 0, 0, False))
            continue
        rng = random.Random(f"{seed}:bank:{day.isoformat()}:{client.client_id}")
        with engine.connect() as conn:
            debtors = _debtor_payments(conn, rng, client, day)
            payouts = _payouts(conn, rng, client, day)
        frame = payments_frame(debtors + payouts)
        if client.country == "NO":
            data, fmt = _ocr_giro(frame, client, day), "ocr_giro"
        else:
            data, fmt = _bgmax(frame, client, day), "bgmax"
        write_atomic(path, data)
        written.append(
            BankFileWritten(
                client.client_id, str(path), fmt, len(debtors), len(payouts),
                int(frame["amount"].sum()), True,
            )
        )  # fmt: skip
    return written


def _row(client, ref: str, payer: str, reference: str, amount: int, paid_on: date) -> dict:
    return {
        "payment_ref": ref,
        "payer_account": payer,
        "reference": reference,
        "amount": amount,
        "payment_date": paid_on,
        "payee_account": client.default_bank_account,
        "currency": client.currency,
        "payer_name": "",
        "line": 0,
    }


def _payer_account(rng: random.Random, country: str) -> str:
    if country == "NO":
        return f"{rng.randint(1200, 9899):04d}{rng.randint(0, 9_999_999):07d}"
    return f"{rng.randint(1000000, 4999999)}"


def _paid_twice_candidates(conn, client_id: int) -> list:
    """Invoices whose case the agency closed as paid (a debtor may pay the creditor as well)."""
    return conn.execute(
        select(erp_invoice.c.invoice_id, erp_invoice.c.kid)
        .join(ink_case, ink_case.c.invoice_id == erp_invoice.c.invoice_id)
        .where(
            erp_invoice.c.client_id == client_id,
            ink_case.c.status == "paid",
            erp_invoice.c.status == "paid",
        )
        .order_by(erp_invoice.c.invoice_id)
    ).all()


def _debtor_payments(conn, rng: random.Random, client, day: date) -> list[dict]:
    invoices = pd.DataFrame(
        conn.execute(
            query("erp/select_open_invoices_for_bank"), {"client_id": client.client_id}
        ).mappings().all(),
        columns=["invoice_id", "client_id", "customer_id", "kid", "remaining_amount", "status"],
    )  # fmt: skip
    paid_on = day - timedelta(days=1)
    rows = []
    open_ids = invoices[invoices["status"] == "open"].to_dict("records")
    at_collection = invoices[invoices["status"] == "at_collection"].to_dict("records")
    picks = rng.sample(open_ids, min(len(open_ids), rng.randint(3, 8)))
    if at_collection and rng.random() < 0.6:
        picks += rng.sample(at_collection, min(len(at_collection), rng.randint(1, 2)))
    for invoice in sorted(picks, key=lambda i: i["invoice_id"]):
        remaining = int(invoice["remaining_amount"])
        if rng.random() < 0.75 or remaining <= 100:
            amount = remaining
        else:
            amount = rng.randint(1, (remaining - 1) // 100) * 100
        payer = _payer_account(rng, client.country)
        rows.append(_row(client, f"P{len(rows) + 1}", payer, invoice["kid"], amount, paid_on))
    twice = _paid_twice_candidates(conn, client.client_id)
    if twice and rng.random() < 0.3:
        invoice = rng.choice(twice)
        amount = rng.randint(1, 10) * 10000
        payer = _payer_account(rng, client.country)
        rows.append(_row(client, f"P{len(rows) + 1}", payer, invoice.kid, amount, paid_on))
    if rng.random() < 0.5:
        wrong = invalidate(payment_reference(f"{rng.randint(0, 10**14 - 1):014d}"))
        amount = rng.randint(100, 500_00)
        rows.append(
            _row(client, f"P{len(rows) + 1}", _payer_account(rng, client.country), wrong,
                 amount, paid_on)
        )  # fmt: skip
    return rows


def _payouts(conn, rng: random.Random, client, day: date) -> list[dict]:
    """The agencies' payouts of what they collected up to yesterday, the way each mode expects."""
    agreements = conn.execute(
        select(
            ink_agreement.c.agreement_id,
            ink_agreement.c.agency_bank_account,
            ink_agreement.c.booking_mode,
        ).where(ink_agreement.c.client_id == client.client_id)
    ).all()
    rows = []
    for agreement_id, account, mode in agreements:
        if mode == "bank":
            rows += _payouts_per_invoice(conn, client, agreement_id, account, day, len(rows))
        else:
            rows += _lump_payouts(conn, rng, client, agreement_id, account, day, len(rows))
    return rows


def _lump_payouts(conn, rng, client, agreement_id, account, day, offset) -> list[dict]:
    """Settlement mode: one payout per settlement day (closure date) not paid yet, some short
    by a fee."""
    paid_days = {
        d
        for (d,) in conn.execute(
            select(ink_payout.c.payment_date).where(
                ink_payout.c.agreement_id == agreement_id, ink_payout.c.case_id.is_(None)
            )
        )
    }
    since = day - timedelta(days=PAYOUT_LOOKBACK_DAYS)
    settled = conn.execute(
        select(ink_collection.c.closure_date, func.sum(ink_collection.c.amount))
        .where(
            ink_collection.c.agreement_id == agreement_id,
            ink_collection.c.closure_date.between(since, day - timedelta(days=1)),
        )
        .group_by(ink_collection.c.closure_date)
        .order_by(ink_collection.c.closure_date)
    ).all()
    rows = []
    for closed_date, amount in settled:
        if closed_date in paid_days or not amount or amount <= 0:
            continue
        amount = int(amount)
        # the agency's settlement number as the payment's KID: it fits no invoice
        settlement_ref = payment_reference(f"9{closed_date:%Y%m%d}")
        if rng.random() < 0.25:
            amount -= min(rng.choice(FEES), amount - 1)
        rows.append(
            _row(client, f"U{offset + len(rows) + 1}", account, settlement_ref, amount, closed_date)
            | {"payer_name": agreement_id}
        )
    return rows


def _payouts_per_invoice(conn, client, agreement_id, account, day, offset) -> list[dict]:
    """Bank mode: each case's collected amount not paid out yet, with the invoice's KID."""
    k, p, i = ink_case.c, erp_payment.c, erp_invoice.c
    paid = (
        select(p.invoice_id, func.sum(p.amount).label("paid"))
        .where(p.kind == "collection", p.client_id == client.client_id)
        .group_by(p.invoice_id)
        .subquery()
    )
    last = (
        select(ink_collection.c.case_id, func.max(ink_collection.c.closure_date).label("last"))
        .where(ink_collection.c.agreement_id == agreement_id)
        .group_by(ink_collection.c.case_id)
        .subquery()
    )
    owed = conn.execute(
        select(k.case_id, i.kid, k.collected_amount, func.coalesce(paid.c.paid, 0), last.c.last)
        .join(erp_invoice, i.invoice_id == k.invoice_id)
        .join(last, last.c.case_id == k.case_id)
        .outerjoin(paid, paid.c.invoice_id == k.invoice_id)
        .where(k.agreement_id == agreement_id, last.c.last < day)
        .order_by(k.case_id)
    ).all()
    rows = []
    for _case_id, kid, collected, already, closed_on in owed:
        amount = int(collected) - int(already)
        if amount > 0:
            ref = f"U{offset + len(rows) + 1}"
            rows.append(_row(client, ref, account, kid, amount, closed_on))
    return rows


def _ocr_giro(frame: pd.DataFrame, client, day: date) -> bytes:
    import netsgiro

    transmission = netsgiro.Transmission(
        number=f"{day:%y%m%d}{client.client_id % 10}",
        data_transmitter="00008080",
        data_recipient=f"{client.client_id:08d}",
        date=day,
    )
    assignment = transmission.add_assignment(
        service_code=netsgiro.ServiceCode.OCR_GIRO,
        assignment_type=netsgiro.AssignmentType.TRANSACTIONS,
        agreement_id=f"{client.client_id:09d}",
        number=f"{day:%y%m%d}{client.client_id % 10}",
        account=f"{client.default_bank_account:0>11}",
        date=day,
    )
    for number, row in enumerate(frame.itertuples(index=False), start=1):
        assignment.transactions.append(
            netsgiro.Transaction(
                service_code=netsgiro.ServiceCode.OCR_GIRO,
                type=netsgiro.TransactionType.FROM_GIRO_DEBITED_ACCOUNT,
                number=number,
                date=row.payment_date,
                amount=Decimal(int(row.amount)) / 100,
                kid=row.reference or None,
                reference=f"{number:09d}",
                text=None,
                centre_id="01",
                day_code=row.payment_date.day,
                partial_settlement_number=1,
                partial_settlement_serial_number="00001",
                sign="0",
                form_number="0000000000",
                bank_date=row.payment_date,
                debit_account=f"{row.payer_account:0>11}",
                filler=None,
            )
        )
    return transmission.to_ocr().encode("iso-8859-1") + b"\n"


def _bgmax(frame: pd.DataFrame, client, day: date) -> bytes:
    from inkasso.bank.bgmax import write_bgmax

    return write_bgmax(
        frame,
        payee_bankgiro=client.default_bank_account,
        written_at=datetime.combine(day, time(3, 0)),
    )
