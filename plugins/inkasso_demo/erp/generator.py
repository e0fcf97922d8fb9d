"""The deterministic demo ERP: clients, agreements, customers, the person register and invoices.

``create_demo_erp`` fills an empty database from ``random.Random(seed)`` alone (no wall clock):
the same seed, customer count and start day give the same rows on SQLite and PostgreSQL.
``simulate_erp_day`` (in :mod:`inkasso_demo.erp.day`) plays one day of the ERP's own activity.
Rows are written in bulk (``executemany`` of chunked lists of dicts), so that 200 000 customers
(about a million invoices) take seconds, not hours.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy import Connection, Engine, Table, func, select, text

from inkasso.db.schema import (
    erp_client,
    erp_customer,
    erp_invoice,
    erp_metadata,
    erp_person_register,
    ink_agreement,
)
from inkasso_demo.erp import ids, names
from inkasso_demo.erp.clients import CLIENTS, DemoClient, agreement_rows, client_rows
from inkasso_demo.erp.day import demo_metadata, simulate_erp_day
from inkasso_demo.erp.invoices import invoice_row, marked_at, random_amount

__all__ = ["DemoErpExistsError", "create_demo_erp", "demo_erp_exists", "simulate_erp_day"]

CHUNK_ROWS = 20_000
# share of customers per client (clients 1-8); the Lowell agreements are the biggest
_CLIENT_WEIGHTS = (16, 10, 10, 16, 12, 12, 12, 12)
_ORGANISATION_SHARE = 0.15
_INVALID_ID_SHARE = 0.005
_MARK_SHARE = 0.10  # of the open overdue invoices
# the first customers are the minimum-amount edge cases: two per client (exact, one øre under)
EDGE_CUSTOMERS = 2 * len(CLIENTS)


class DemoErpExistsError(RuntimeError):
    """The database already holds demo ERP data; the generator never writes over it."""


@dataclass
class _Writer:
    """Buffers rows per table and writes them with executemany, parents before children."""

    conn: Connection
    buffers: dict[Table, list[dict]] = field(default_factory=dict)
    order: tuple[Table, ...] = (erp_customer, erp_person_register, erp_invoice)

    def add(self, table: Table, row: dict) -> None:
        """Queue one row; flush everything once a chunk is full."""
        buffer = self.buffers.setdefault(table, [])
        buffer.append(row)
        if len(buffer) >= CHUNK_ROWS:
            self.flush()

    def flush(self) -> None:
        """Write all queued rows, customers first so that foreign keys hold on PostgreSQL."""
        for table in self.order:
            rows = self.buffers.get(table)
            if rows:
                self.conn.execute(table.insert(), rows)
                rows.clear()


def demo_erp_exists(engine: Engine) -> bool:
    """Whether the database already has a filled demo ERP (any ``erp_client`` row)."""
    erp_metadata.create_all(engine)
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(erp_client)).scalar_one() > 0


def create_demo_erp(
    engine: Engine, *, seed: int = 42, customers: int = 4000, start_day: date
) -> dict[str, int]:
    """Create the demo ERP tables and fill them; return how many rows of each kind were made.

    Needs the pipeline's tables (``ink_agreement``) to exist already: the caller runs the
    migrations first. Invoices are dated before ``start_day``; marked ones were marked on the
    days before it. Raises :class:`DemoErpExistsError` if the ERP already has data.
    """
    if customers < EDGE_CUSTOMERS:
        raise ValueError(f"customers must be at least {EDGE_CUSTOMERS}, got {customers}")
    if demo_erp_exists(engine):
        raise DemoErpExistsError(f"the demo ERP at {engine.url!r} already has data")
    demo_metadata.create_all(engine)
    rng = random.Random(seed)
    counts: Counter[str] = Counter()
    with engine.begin() as conn:
        conn.execute(erp_client.insert(), client_rows(rng))
        conn.execute(ink_agreement.insert(), agreement_rows(rng))
        counts["clients"] = counts["agreements"] = len(CLIENTS)
        gen = _Generator(rng, start_day, counts, _Writer(conn))
        for index in range(customers):
            if index < EDGE_CUSTOMERS:
                gen.edge_customer(CLIENTS[index // 2], exact=index % 2 == 0)
            else:
                gen.random_customer()
        gen.gate_cases(CLIENTS[0])
        gen.writer.flush()
        _advance_sequences(conn)
    return {key: counts[key] for key in sorted(counts)}


def _advance_sequences(conn: Connection) -> None:
    """On PostgreSQL move the serial sequences past the explicit ids the generator wrote."""
    if conn.dialect.name != "postgresql":
        return
    for table, column in (
        ("erp_client", "client_id"),
        ("erp_customer", "customer_id"),
        ("erp_invoice", "invoice_id"),
    ):
        conn.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                f"(SELECT COALESCE(MAX({column}), 0) + 1 FROM {table}), false)"
            )
        )


class _Generator:
    """Draws customers and their invoices from one random stream and hands them to the writer."""

    def __init__(self, rng: random.Random, start_day: date, counts: Counter, writer: _Writer):
        self.rng = rng
        self.start_day = start_day
        self.counts = counts
        self.writer = writer
        self.used_ids: set[str] = set()
        self.customer_id = 0
        self.invoice_id = 0
        self.customer_seq = Counter()  # per client
        self.invoice_seq = Counter()  # per client

    # ------------------------------------------------------------------ customers

    def _national_id(self, client: DemoClient, is_org: bool, *, valid: bool = True) -> str:
        rng = self.rng
        while True:
            if client.country == "NO":
                number = ids.no_orgnr(rng) if is_org else ids.no_fodselsnummer(rng)
            else:
                number = ids.se_orgnr(rng) if is_org else ids.se_personnummer(rng)
            if not valid:
                number = ids.invalidate(number)
            if number not in self.used_ids:
                self.used_ids.add(number)
                return number

    def _new_customer(self, client: DemoClient, is_org: bool, valid: bool) -> dict:
        rng = self.rng
        self.customer_id += 1
        self.customer_seq[client.client_id] += 1
        country = client.country
        if is_org:
            name, mail = names.firm_name(rng, country), None
            if rng.random() < 0.7:
                mail = names.firm_email(name)
        else:
            first, last = names.person_name(rng, country)
            name = f"{first} {last}"
            mail = names.email(first, last, country) if rng.random() < 0.6 else None
        self.counts["organisations" if is_org else "persons"] += 1
        self.counts["customers"] += 1
        return {
            "customer_id": self.customer_id,
            "client_id": client.client_id,
            "customer_no": str(10_000 + self.customer_seq[client.client_id]),
            "name": name,
            "is_organisation": is_org,
            "national_id": self._national_id(client, is_org, valid=valid),
            "country": country,
            "postal_street": None,
            "postal_postcode": None,
            "postal_city": None,
            "postal_source": "manual",
            "billing_street": None,
            "billing_postcode": None,
            "billing_city": None,
            "email": mail,
        }

    def _set_address(self, row: dict, prefix: str, addr: tuple) -> None:
        row[f"{prefix}_street"], row[f"{prefix}_postcode"], row[f"{prefix}_city"] = addr

    def _incomplete(self, country: str) -> tuple[str | None, str | None, str | None]:
        street, postcode, city = names.address(self.rng, country)
        which = self.rng.randrange(3)
        return (street, None, city) if which == 0 else (street, postcode, None) if which == 1 else (None, postcode, city)  # fmt: skip

    def _register(self, row: dict, addr: tuple) -> None:
        self.writer.add(
            erp_person_register,
            {
                "national_id": row["national_id"],
                "name": row["name"],
                "street": addr[0],
                "postcode": addr[1],
                "city": addr[2],
                "country": row["country"],
            },
        )
        self.counts["register_persons"] += 1

    def random_customer(self) -> None:
        """One customer with an address case drawn from the spread the dispatch rules must meet."""
        rng = self.rng
        client = rng.choices(CLIENTS, weights=_CLIENT_WEIGHTS)[0]
        is_org = rng.random() < _ORGANISATION_SHARE
        valid = rng.random() >= _INVALID_ID_SHARE
        row = self._new_customer(client, is_org, valid)
        country = client.country
        full = names.address(rng, country)
        r = rng.random()
        in_register, register_addr = (not is_org and valid), full
        if is_org:
            case = (
                "manual"
                if r < 0.80
                else "billing"
                if r < 0.92
                else "missing"
                if r < 0.96
                else "incomplete"
            )
        else:
            case = (
                "manual" if r < 0.38 else "register" if r < 0.68 else "missing" if r < 0.76
                else "incomplete" if r < 0.82 else "billing" if r < 0.90
                else "billing_incomplete" if r < 0.93 else "not_in_register"
            )  # fmt: skip
        if case in ("manual", "billing", "billing_incomplete", "not_in_register", "register"):
            self._set_address(row, "postal", full)
        elif case == "incomplete":
            self._set_address(row, "postal", self._incomplete(country))
        if case == "register":
            row["postal_source"] = "register"
        if case == "billing":
            self._set_address(row, "billing", names.address(rng, country))
            self.counts["billing_addresses"] += 1
        elif case == "billing_incomplete":
            self._set_address(row, "billing", self._incomplete(country))
            self.counts["billing_addresses_incomplete"] += 1
        if case == "not_in_register" or (case == "missing" and rng.random() < 0.1):
            in_register = False
        if in_register and rng.random() < (0.15 if case == "register" else 0.05):
            register_addr = names.address(rng, country)  # moved since the ERP last heard
            self.counts["moved_persons"] += 1
        if not valid:
            self.counts["invalid_ids"] += 1
        if case in ("missing", "incomplete"):
            self.counts["customers_without_valid_address"] += 1
        self.writer.add(erp_customer, row)
        if in_register:
            self._register(row, register_addr)
        elif not is_org:
            self.counts["persons_not_in_register"] += 1
        mark_share = 0.5 if not valid else _MARK_SHARE
        for _ in range(rng.randint(1, 9)):
            self._random_invoice(client, row, mark_share)

    def edge_customer(self, client: DemoClient, *, exact: bool) -> None:
        """A customer whose marked invoices total the client's minimum exactly, or one øre less."""
        rng = self.rng
        row = self._new_customer(client, is_org=False, valid=True)
        addr = names.address(rng, client.country)
        self._set_address(row, "postal", addr)
        self.writer.add(erp_customer, row)
        self._register(row, addr)
        minimum = client.min_collection_amount
        amounts = [minimum] if exact else [minimum // 2, minimum - 1 - minimum // 2]
        self.counts["customers_at_minimum" if exact else "customers_one_under_minimum"] += 1
        for i, amount in enumerate(amounts):
            inv = self._base_invoice(client, row, self.start_day - timedelta(days=90 + 7 * i), 14)
            inv.update(original_amount=amount, remaining_amount=amount, reminder_count=3)
            inv.update(
                marked_for_collection=True,
                marked_at=marked_at(rng, self.start_day - timedelta(days=1)),
            )
            self._emit(inv)

    def gate_cases(self, client: DemoClient) -> None:
        """Three marked invoices of a Norwegian client that the gates before sending must hold.

        One not yet due with no reminder (``not_due``), one due in 2019 (``time_barred``) and one in
        EUR under the client's NOK (``currency_mismatch``), each of its own customer so that no
        other rule decides first. Drawn last, so that they change nothing else the seed makes.
        """
        start = self.start_day
        cases = [
            ("not_due", start - timedelta(days=5), 14, 0, None),
            ("time_barred", date(2019, 5, 2), 14, 3, None),
            ("currency_mismatch", start - timedelta(days=60), 30, 2, "EUR"),
        ]
        for kind, invoice_date, terms, reminders, currency in cases:
            row = self._new_customer(client, is_org=False, valid=True)
            addr = names.address(self.rng, client.country)
            self._set_address(row, "postal", addr)
            self.writer.add(erp_customer, row)
            self._register(row, addr)
            inv = self._base_invoice(client, row, invoice_date, terms)
            inv.update(
                original_amount=123_400,
                remaining_amount=123_400,
                reminder_count=reminders,
                marked_for_collection=True,
                marked_at=marked_at(self.rng, start - timedelta(days=1)),
            )
            if currency:
                inv["currency"] = currency
            self.counts[f"gate_{kind}"] += 1
            self._emit(inv)

    # ------------------------------------------------------------------ invoices

    def _base_invoice(
        self, client: DemoClient, customer: dict, invoice_date: date, terms: int
    ) -> dict:
        self.invoice_id += 1
        self.invoice_seq[client.client_id] += 1
        return invoice_row(
            invoice_id=self.invoice_id,
            client=client,
            customer_id=customer["customer_id"],
            customer_no=customer["customer_no"],
            seq=self.invoice_seq[client.client_id],
            invoice_date=invoice_date,
            due_date=invoice_date + timedelta(days=terms),
            amount=random_amount(self.rng),
            address=(
                customer["postal_street"],
                customer["postal_postcode"],
                customer["postal_city"],
            ),
        )

    def _emit(self, inv: dict) -> None:
        c = self.counts
        c["invoices"] += 1
        c[f"invoices_{inv['status']}"] += 1
        if inv["status"] == "open" and inv["remaining_amount"] < inv["original_amount"]:
            c["invoices_partly_paid"] += 1
        if inv["disputed"]:
            c["invoices_disputed"] += 1
        if inv["marked_for_collection"]:
            c["marked"] += 1
            if inv["disputed"]:
                c["marked_disputed"] += 1
            if inv["status"] != "open":
                c[f"marked_{inv['status']}"] += 1
        if inv["addr_changed_manually"]:
            c["addr_changed_manually"] += 1
        self.writer.add(erp_invoice, inv)

    def _random_invoice(self, client: DemoClient, customer: dict, mark_share: float) -> None:
        rng = self.rng
        start = self.start_day
        inv = self._base_invoice(
            client, customer, start - timedelta(days=rng.randint(1, 400)), rng.choice((14, 30))
        )
        if rng.random() < 0.10:  # small invoices, under the client's minimum on their own
            amount = rng.randint(1000, client.min_collection_amount - 1)
            inv["original_amount"] = inv["remaining_amount"] = amount
        original = inv["original_amount"]
        days_overdue = (start - inv["due_date"]).days
        r = rng.random()
        if days_overdue <= 0:
            status = "paid" if r < 0.25 else "open"
        else:
            status = "paid" if r < 0.60 else "credited" if r < 0.65 else "open"
        inv["status"] = status
        if status != "open":
            inv["remaining_amount"] = 0
            inv["reminder_count"] = rng.randint(0, 2) if days_overdue > 0 else 0
            if rng.random() < 0.002:  # marked, then paid or credited: the rules hold it back
                inv["marked_for_collection"] = True
        else:
            if rng.random() < 0.12 and original > 200:  # partly paid, in whole kroner
                inv["remaining_amount"] = original - rng.randint(1, (original - 1) // 100) * 100
            if days_overdue > 0:
                inv["reminder_count"] = min(3, days_overdue // 14 + rng.randint(0, 1))
                inv["disputed"] = rng.random() < 0.03
                share = 0.3 if inv["disputed"] else mark_share
                inv["marked_for_collection"] = rng.random() < share
            elif rng.random() < 0.005:  # disputed before it fell due
                inv["disputed"] = True
        if inv["marked_for_collection"]:
            inv["marked_at"] = marked_at(rng, start - timedelta(days=rng.randint(1, 7)))
        if rng.random() < (0.10 if inv["marked_for_collection"] else 0.02):
            inv["addr_changed_manually"] = True
            if rng.random() < 0.15:
                inv["addr_street"], inv["addr_postcode"], inv["addr_city"] = self._incomplete(
                    client.country
                )
                self.counts["addr_changed_manually_incomplete"] += 1
            else:
                inv["addr_street"], inv["addr_postcode"], inv["addr_city"] = names.address(
                    rng, client.country
                )
        self._emit(inv)
