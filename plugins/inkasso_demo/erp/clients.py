"""The demo ERP's eight clients, each with its agreement with one debt collection agency."""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

from inkasso_demo.erp import ids


@dataclass(frozen=True)
class DemoClient:
    """One company of the multi-company demo ERP and its collection agreement."""

    client_id: int
    name: str
    domain: str
    country: str
    agreement_id: str
    agency: str
    mode: str  # 'sftp' or 'manual'
    min_collection_amount: int  # øre / öre
    reminder_service: bool = False
    # 'bank' (the agency pays per invoice with its KID) or 'settlement' (closure books, lump payout)
    booking_mode: str = "bank"
    reminder_level: int | None = None  # with reminder_service: the level invoices go at

    @property
    def currency(self) -> str:
        """NOK for Norwegian clients, SEK for Swedish ones."""
        return "NOK" if self.country == "NO" else "SEK"


CLIENTS: tuple[DemoClient, ...] = (
    DemoClient(1, "Nordlys Energi AS", "nordlys-energi", "NO", "lowell_no", "lowell", "sftp", 5000),
    DemoClient(2, "Bjørkeli Bredbånd AS", "bjorkeli", "NO", "creno", "creno", "sftp", 10000, booking_mode="settlement"),
    DemoClient(3, "Fjordtann Tannhelse AS", "fjordtann", "NO", "credicare", "credicare", "manual", 20000),
    DemoClient(4, "Göta Elnät AB", "gota-elnat", "SE", "lowell_se", "lowell", "sftp", 5000, booking_mode="settlement"),
    DemoClient(5, "Skånska Hyrbilar AB", "skanska-hyrbilar", "SE", "kredithanterarna", "kredithanterarna", "sftp", 15000),
    DemoClient(6, "Mälardalens Vård AB", "malardalens-vard", "SE", "svea", "svea", "sftp", 10000, True, reminder_level=1),
    DemoClient(7, "Norrlands Försäkring AB", "norrlands-forsakring", "SE", "preventia", "preventia", "sftp", 7500, booking_mode="settlement"),
    DemoClient(8, "Västkust Fastigheter AB", "vastkust", "SE", "intrum", "intrum", "manual", 20000, booking_mode="settlement"),
)  # fmt: skip
# INKASSO_DEMO_BOOKING_MODE=settlement (or bank) puts every demo agreement in one booking mode
BOOKING_MODE_ENV = "INKASSO_DEMO_BOOKING_MODE"


def _bank_account(country: str, rng: random.Random) -> str:
    """A valid account drawn from ``rng``: a Norwegian account number or a Swedish bankgiro."""
    return ids.no_bank_account(rng) if country == "NO" else ids.se_bankgiro(rng)


def client_rows(rng: random.Random) -> list[dict]:
    """The ``erp_client`` rows: valid org numbers and default bank accounts drawn from ``rng``."""
    return [
        {
            "client_id": c.client_id,
            "name": c.name,
            "org_no": ids.no_orgnr(rng) if c.country == "NO" else ids.se_orgnr(rng),
            "country": c.country,
            "currency": c.currency,
            "min_collection_amount": c.min_collection_amount,
            "default_bank_account": _bank_account(c.country, rng),
            "register_lookup": True,
            "report_recipients": f"ekonomi@{c.domain}.example",
        }
        for c in CLIENTS
    ]


def agreement_rows(rng: random.Random) -> list[dict]:
    """The ``ink_agreement`` rows, one per client: agency, customer number there, its account."""
    return [
        {
            "agreement_id": c.agreement_id,
            "client_id": c.client_id,
            "agency": c.agency,
            "country": c.country,
            "customer_no_at_agency": str(rng.randint(10000, 99999)),
            "agency_bank_account": _bank_account(c.country, rng),
            "payback_account": None,
            "mode": c.mode,
            "sftp_conn_id": f"inkasso_sftp_{c.agreement_id}" if c.mode == "sftp" else None,
            "reminder_service": c.reminder_service,
            "interim_account": "1684",
            "booking_mode": os.environ.get(BOOKING_MODE_ENV) or c.booking_mode,
            "reminder_level": c.reminder_level,
            "active": True,
        }
        for c in CLIENTS
    ]
