"""Invoice rows of the demo ERP: numbering, KID / OCR references, amounts, marking times."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time

from inkasso_demo.erp import ids
from inkasso_demo.erp.clients import DemoClient

_MAX_AMOUNT = 2_500_000  # 25 000.00


def invoice_row(
    *,
    invoice_id: int,
    client: DemoClient,
    customer_id: int,
    customer_no: str,
    seq: int,
    invoice_date: date,
    due_date: date,
    amount: int,
    address: tuple[str | None, str | None, str | None],
) -> dict:
    """A new open invoice (full amount, no reminders) with its KID / OCR reference."""
    return {
        "invoice_id": invoice_id,
        "client_id": client.client_id,
        "customer_id": customer_id,
        "invoice_no": invoice_no(seq),
        "invoice_date": invoice_date,
        "due_date": due_date,
        "currency": client.currency,
        "original_amount": amount,
        "remaining_amount": amount,
        "kid": ids.payment_reference(f"{int(customer_no):07d}{seq:08d}"),
        "reminder_count": 0,
        "status": "open",
        "disputed": False,
        "marked_for_collection": False,
        "marked_at": None,
        "addr_street": address[0],
        "addr_postcode": address[1],
        "addr_city": address[2],
        "addr_changed_manually": False,
    }


def invoice_no(seq: int) -> str:
    """The invoice number of a client's ``seq``-th invoice: eight digits, sortable as text."""
    return str(10_000_000 + seq)


def random_amount(rng: random.Random) -> int:
    """An invoice amount in øre, 99.00 to 25 000.00, most of them a few hundred kroner."""
    kroner = int(math.exp(rng.uniform(math.log(99), math.log(25_000))))
    ore = rng.choice((0, 0, 0, 0, 50, 90, rng.randint(1, 99)))
    return min(kroner * 100 + ore, _MAX_AMOUNT)


def marked_at(rng: random.Random, day: date) -> datetime:
    """A moment during ``day`` (UTC, office hours) when an invoice was marked for collection."""
    moment = time(rng.randint(6, 17), rng.randint(0, 59), rng.randint(0, 59))
    return datetime.combine(day, moment, tzinfo=UTC)
