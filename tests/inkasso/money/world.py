"""A small Swedish world for the money tests: one client, one Lowell agreement (either booking
mode), invoices at collection with their cases, and helpers that drive the real flows: closure
files through the inbound check-and-apply path, bank files through the bank import, corrections
through ``prepare_corrections``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pandas as pd
from sqlalchemy import insert, text, update

from inkasso.agreements import Agreement
from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.importer import import_bank_file
from inkasso.bank.model import payments_frame
from inkasso.db.schema import (
    erp_client,
    erp_customer,
    erp_invoice,
    erp_invoice_adjustment,
    ink_agreement,
    ink_case,
    ink_file_log,
)
from inkasso.formats import load_layout, load_profile
from inkasso.inbound import process_received

SENT = date(2026, 11, 2)
CLIENT, AGREEMENT, CUSTOMER_NO = 4, "lowell_se", "55082"
AGENCY_ACCOUNT = "7654321"
OPENED = datetime(2026, 11, 2, 4, tzinfo=UTC)


@dataclass
class World:
    """The database, the files base and the agreement under test, with the flows as methods."""

    engine: object
    base: object
    mode: str
    clock: datetime = OPENED
    files: int = 0
    agreement_id: str = AGREEMENT  # another agreement of the client: `dataclasses.replace`
    customer_no: str = CUSTOMER_NO
    interim_account: str = "1684"
    client_id: int = CLIENT  # another client's agreement: `dataclasses.replace` with both

    @property
    def agreement(self) -> Agreement:
        """The agreement as the inbound flow sees it."""
        return Agreement(
            agreement_id=self.agreement_id,
            client_id=self.client_id,
            agency="lowell",
            country="NO",
            customer_no_at_agency=self.customer_no,
            mode="sftp",
            sftp_conn_id="c_lowell",
            interim_account=self.interim_account,
            booking_mode=self.mode,
        )

    def tick(self) -> datetime:
        """Wall-clock time moves on between steps (bookings are ordered by it)."""
        self.clock += timedelta(minutes=10)
        return self.clock

    def closure(self, day: date, records: list[dict], dated: date | None = None) -> dict:
        """The agency's closure file of ``day`` (records: case_id, status, collected, remaining),
        its records closed on ``dated`` (default: the day; earlier: a late file)."""
        profile = load_profile("lowell")
        spec = profile.files["closure"]
        self.files += 1
        name = spec.file_name(
            self.customer_no, datetime(day.year, day.month, day.day, 5, self.files)
        )
        codes = {v: k for k, v in profile.closure_statuses.items()}
        frame = pd.DataFrame(
            [
                {
                    "case_id": r["case_id"],
                    "agency_case_ref": f"L{r['case_id']}",
                    "closure_status": codes[r["status"]],
                    "collected_amount": r["collected"],
                    "remaining_amount": r["remaining"],
                    "closure_date": dated or day,
                }
                for r in records
            ]
        )
        data = load_layout(spec.layout).write(
            {"customer_no": self.customer_no, "file_date": day}, frame
        )
        return self.receive(day, "closure", name, data)

    def receive(self, day: date, kind: str, name: str, data: bytes) -> dict:
        """A file from the agency into the archive and the file log, then checked and applied."""
        path = self.base / "inbound" / self.agreement_id / day.isoformat() / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        with self.engine.begin() as conn:
            conn.execute(
                insert(ink_file_log).values(
                    client_id=self.client_id, agreement_id=self.agreement_id, direction="in",
                    kind=kind,
                    file_name=name, business_date=day, status="received", path=str(path),
                    sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                    record_count=0, amount_total=0, created_at=self.tick(),
                )
            )  # fmt: skip
        out = process_received(self.engine, self.agreement, self.base, day, now=self.tick())
        assert not out.get("quarantined"), out
        return out

    def bank_file(self, day: date, payments: list[dict]) -> dict:
        """A BgMax file of ``day`` with payments (reference, amount, paid_on, from_agency)."""
        rows = [
            {
                "payment_ref": f"P{n}",
                "payer_account": AGENCY_ACCOUNT if p.get("from_agency") else "1234567",
                "reference": p["reference"],
                "amount": p["amount"],
                "payment_date": p.get("paid_on", day - timedelta(days=1)),
                "payee_account": "58410000010098",
                "currency": "SEK",
                "payer_name": "",
                "line": 0,
            }
            for n, p in enumerate(payments, start=1)
        ]
        self.files += 1
        data = write_bgmax(
            payments_frame(rows), payee_bankgiro="9912346", written_at=datetime(2026, 11, 2, 3)
        )
        result = import_bank_file(
            self.engine, CLIENT, f"BGMAX.{self.files}.txt", data,
            business_date=day, base=self.base, now=self.tick(), run_id="test",
        )  # fmt: skip
        assert result["status"] == "applied", result
        return result

    def adjustment(self, invoice_id: int, kind: str, amount: int, dated: date) -> None:
        """The ERP registers a credit note / recall / write-off now (remaining down, not below 0)."""
        with self.engine.begin() as conn:
            conn.execute(
                insert(erp_invoice_adjustment).values(
                    invoice_id=invoice_id, kind=kind, amount=amount, adjustment_date=dated,
                    text=kind, booked_at=self.tick(),
                )
            )  # fmt: skip
            remaining = conn.execute(
                text("SELECT remaining_amount FROM erp_invoice WHERE invoice_id = :i"),
                {"i": invoice_id},
            ).scalar()
            conn.execute(
                update(erp_invoice)
                .where(erp_invoice.c.invoice_id == invoice_id)
                .values(remaining_amount=max(remaining - amount, 0))
            )

    def corrections(self, day: date) -> dict:
        """Run the corrections flow's prepare step for the agreement and ``day``."""
        from inkasso.agreements import load_agreements
        from inkasso.corrections import prepare_corrections

        (agreement,) = load_agreements(self.engine, agreement_id=self.agreement_id)
        return prepare_corrections(self.engine, agreement, day, self.base, now=self.tick())

    def invoice(self, invoice_id: int) -> dict:
        """The invoice's status and remaining amount."""
        with self.engine.connect() as conn:
            row = conn.execute(
                text("SELECT status, remaining_amount FROM erp_invoice WHERE invoice_id = :i"),
                {"i": invoice_id},
            ).one()
        return {"status": row.status, "remaining": int(row.remaining_amount)}

    def scalar(self, sql: str, **params):
        """One value of a query."""
        with self.engine.connect() as conn:
            return conn.execute(text(sql), params).scalar()


def new_world(engine, folder, mode: str) -> World:
    """The world's Lowell agreement in booking ``mode`` on ``engine`` (a migrated, empty ERP
    database), its files under ``folder``; the cases are opened by each test."""
    from airflow.sdk import ObjectStoragePath

    with engine.begin() as conn:
        conn.execute(
            insert(ink_agreement).values(
                agreement_id=AGREEMENT, client_id=CLIENT, agency="lowell", country="SE",
                customer_no_at_agency=CUSTOMER_NO, agency_bank_account=AGENCY_ACCOUNT,
                mode="sftp", sftp_conn_id="c_lowell", booking_mode=mode,
            )
        )  # fmt: skip
    return World(engine, ObjectStoragePath(f"file://{folder}"), mode)


def kid(invoice_id: int) -> str:
    """The demo world's KID of an invoice (any unique reference will do)."""
    return f"{invoice_id:08d}1"


def open_cases(engine, cases: dict[int, int]) -> None:
    """One client, customer and Lowell agreement; one registered case per invoice: id -> sent."""
    with engine.begin() as conn:
        conn.execute(
            insert(erp_client).values(
                client_id=CLIENT, name="Göta Elnät AB", org_no="5560000000", country="SE",
                currency="SEK", min_collection_amount=5000, default_bank_account="9912346",
            )
        )  # fmt: skip
        conn.execute(
            insert(erp_customer).values(
                customer_id=1, client_id=CLIENT, customer_no="1", name="Anna",
                is_organisation=False, national_id="x", country="SE",
            )
        )  # fmt: skip
        file_id = conn.execute(
            insert(ink_file_log).values(
                client_id=CLIENT, agreement_id=AGREEMENT, direction="out", kind="new_cases",
                file_name="LS1", business_date=SENT, status="delivered", path="x", sha256="x",
                size_bytes=1, record_count=len(cases), amount_total=sum(cases.values()),
                created_at=OPENED,
            )
        ).inserted_primary_key[0]  # fmt: skip
        for invoice_id, sent in cases.items():
            conn.execute(
                insert(erp_invoice).values(
                    invoice_id=invoice_id, client_id=CLIENT, customer_id=1,
                    invoice_no=str(10_000_000 + invoice_id), invoice_date=SENT - timedelta(60),
                    due_date=SENT - timedelta(30), currency="SEK", original_amount=sent,
                    remaining_amount=sent, kid=kid(invoice_id), status="at_collection",
                )
            )  # fmt: skip
            conn.execute(
                insert(ink_case).values(
                    case_id=invoice_id, agreement_id=AGREEMENT, invoice_id=invoice_id,
                    customer_id=1, file_id=file_id, status="registered",
                    agency_case_ref=f"L{invoice_id}", original_amount=sent, sent_amount=sent,
                    currency="SEK", business_date=SENT, opened_at=OPENED,
                )
            )  # fmt: skip


FILLER = {"reference": "5555555555", "amount": 1_000_000}  # keeps a BgMax deposit positive


def pay(world: World, day: date, invoice_id: int, amount: int) -> None:
    """The debtor pays (or the bank reverses, below zero) ``amount`` by the invoice's KID."""
    world.bank_file(day, [{"reference": kid(invoice_id), "amount": amount}, FILLER])


def mail(world: World, day: date, as_of: datetime | None = None):
    """The day's mail for the world's client, read at ``as_of``: (report, text body)."""
    from inkasso.report.gather import gather_client_day
    from inkasso.report.render import render_report

    report = gather_client_day(world.engine, world.client_id, day, as_of=as_of)
    return report, render_report(report).text


def receipt_rejecting(world: World, day: date, case_id: int) -> None:
    """The agency's receipt of ``day`` rejecting one case (it will not take it on)."""
    profile = load_profile("lowell")
    spec = profile.files["receipt"]
    world.files += 1
    name = spec.file_name(CUSTOMER_NO, datetime(day.year, day.month, day.day, 4, world.files))
    frame = pd.DataFrame(
        [{"case_id": case_id, "agency_case_ref": "", "receipt_status": "R",
          "reason_code": "R03", "reason_text": "Skyldner under gjeldsordning"}]
    )  # fmt: skip
    data = load_layout(spec.layout).write({"customer_no": CUSTOMER_NO, "file_date": day}, frame)
    world.receive(day, "receipt", name, data)


def books_close(world, day):
    """The project's money check of ``day``: no violation; returns its report."""
    from inkasso.money.check import check_books

    report = check_books(world.engine, day)
    assert report.violations == [], report.violations
    return report
