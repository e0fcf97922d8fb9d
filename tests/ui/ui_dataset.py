"""A small demo-like ERP for the Inkasso view's tests: the demo generator's clients, customers
and invoices, a real dispatch of the day (cases, events, new-case files on disk, holds), and on
top of it what later days bring (a receipt, a direct payment reported in a correction file, a
quarantined receipt file with its issues, an agency payout, money after a closure)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, insert, select, update

from tests.pg import drop_postgres, new_postgres_url  # noqa: F401 (ui/conftest.py imports them here)

DAY = date(2026, 11, 2)
# a Norwegian fødselsnummer shape in a file line and an issue: the view must mask it
NATIONAL_ID_IN_FILE = "01017012345"


def build_dataset(engine, base: Path) -> dict:
    """Fill ``engine`` (migrated, empty) and ``base`` (files at rest); return ids the tests use."""
    from airflow.sdk import ObjectStoragePath

    from inkasso.agreements import load_agreements
    from inkasso.db.schema import (
        erp_client,
        erp_invoice,
        erp_journal_line,
        erp_payment,
        ink_after_closure,
        ink_agreement,
        ink_case,
        ink_case_event,
        ink_correction,
        ink_file_issue,
        ink_file_log,
        ink_payout,
    )
    from inkasso.dispatch import prepare_new_cases
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(engine, seed=7, customers=300, start_day=DAY)
    sent_at = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
    for agreement in load_agreements(engine):
        prepare_new_cases(
            engine,
            agreement,
            DAY,
            sent_at,
            ObjectStoragePath("file://" + str(base.resolve())),
            now=sent_at,
            run_id="scheduled__2026-11-02T04:00:00+00:00",
        )
    facts: dict = {}
    later = sent_at + timedelta(days=1)
    with engine.begin() as conn:
        first = (
            conn.execute(
                select(ink_case, ink_agreement.c.client_id)
                .select_from(
                    ink_case.join(
                        ink_agreement, ink_agreement.c.agreement_id == ink_case.c.agreement_id
                    )
                )
                .order_by(ink_case.c.case_id)
                .limit(1)
            )
            .mappings()
            .one()
        )
        agreement_id, client_id = first["agreement_id"], first["client_id"]
        facts.update(case_id=first["case_id"], agreement_id=agreement_id, client_id=client_id)

        def case_event(kind, detail, file_id):
            conn.execute(
                insert(ink_case_event).values(
                    case_id=first["case_id"], at=later, kind=kind, detail=detail, file_id=file_id
                )
            )

        def log_file(kind, direction, name, lines, status, records, amount):
            data = ("\r\n".join(lines) + "\r\n").encode("latin-1")
            folder = base / ("quarantine" if status == "quarantined" else "inbound") / agreement_id
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            path.write_bytes(data)
            return conn.execute(
                insert(ink_file_log).values(
                    client_id=client_id,
                    agreement_id=agreement_id,
                    direction=direction,
                    kind=kind,
                    file_name=name,
                    business_date=DAY + timedelta(days=1),
                    status=status,
                    path="file://" + str(path),
                    sha256=hashlib.sha256(data).hexdigest(),
                    size_bytes=len(data),
                    record_count=records,
                    amount_total=amount,
                    run_id="scheduled__2026-11-03T05:00:00+00:00",
                    created_at=later,
                    delivered_at=later,
                )
            ).inserted_primary_key[0]

        # a receipt: the agency's reference on the first case
        receipt = log_file(
            "receipt", "in", "Kvitt_1_20261103053000.txt", ["H", "D", "T"], "applied", 1, 0
        )
        conn.execute(
            update(ink_case)
            .where(ink_case.c.case_id == first["case_id"])
            .values(status="registered", agency_case_ref="AG-777001")
        )
        case_event("receipt", "registered as AG-777001", receipt)
        # a direct payment of 100.00 reported in a correction file
        rd = log_file(
            "corrections", "out", "RD1_20261103043000.txt", ["H", "D", "T"], "delivered", 1, 10000
        )
        # the debtor's payment as the bank import booked it in the ERP (what the books read)
        invoice_id = conn.execute(
            select(ink_case.c.invoice_id).where(ink_case.c.case_id == first["case_id"])
        ).scalar_one()
        direct_id = conn.execute(
            insert(erp_payment).values(
                client_id=client_id, invoice_id=invoice_id, bank_file="OCR.20261103.txt",
                payment_ref="7", payer_account="12345678901", reference="", amount=10000,
                payment_date=DAY, kind="direct", method="bank", booked_at=later,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            update(erp_invoice)
            .where(erp_invoice.c.invoice_id == invoice_id)
            .values(remaining_amount=erp_invoice.c.remaining_amount - 10000)
        )
        conn.execute(
            insert(ink_correction).values(
                case_id=first["case_id"],
                agreement_id=agreement_id,
                source="payment",
                source_id=direct_id,
                correction_type="DP",
                amount=10000,
                correction_date=DAY + timedelta(days=1),
                file_id=rd,
                created_at=later,
            )
        )
        case_event("correction", "DP 100,00", rd)
        # a quarantined receipt file: line 2 names an unknown case and carries a national id
        bad = log_file(
            "receipt",
            "in",
            "Kvitt_1_20261103060000.txt",
            ["H20261103", f"D999999 {NATIONAL_ID_IN_FILE} ACCEPT", "T1"],
            "quarantined",
            1,
            0,
        )
        conn.execute(
            insert(ink_file_issue).values(
                file_id=bad,
                line=2,
                field="case_id",
                reason=f"unknown case 999999 ({NATIONAL_ID_IN_FILE})",
            )
        )
        facts.update(receipt_file_id=receipt, correction_file_id=rd, quarantined_file_id=bad)
        # an agency payout, matched, and the interim account it cleared
        payment_id = conn.execute(
            insert(erp_payment).values(
                client_id=client_id,
                invoice_id=None,
                bank_file="OCR.20261104.txt",
                payment_ref="1",
                payer_account="15030012345",
                reference="",
                amount=25000,
                payment_date=DAY + timedelta(days=2),
                kind="agency_payout",
                method="bank",
                booked_at=later,
            )
        ).inserted_primary_key[0]
        conn.execute(
            insert(ink_payout).values(
                agreement_id=agreement_id,
                payment_id=payment_id,
                amount=25000,
                payment_date=DAY + timedelta(days=2),
                reconciliation="matched",
                settled_amount=25000,
            )
        )
        interim = conn.execute(
            select(ink_agreement.c.interim_account).where(
                ink_agreement.c.agreement_id == agreement_id
            )
        ).scalar_one()
        for source, debit, credit in (("closure:x", 30000, 0), ("payout:x", 0, 25000)):
            conn.execute(
                insert(erp_journal_line).values(
                    client_id=client_id,
                    journal_date=DAY + timedelta(days=2),
                    account=interim,
                    debit=debit,
                    credit=credit,
                    text="demo",
                    source_ref=source,
                )
            )
        facts["interim_balance"] = 5000
        # money after the closure of another case
        other = conn.execute(
            select(ink_case.c.case_id, ink_case.c.invoice_id, ink_case.c.agreement_id)
            .order_by(ink_case.c.case_id.desc())
            .limit(1)
        ).one()
        conn.execute(
            insert(ink_after_closure).values(
                case_id=other.case_id,
                agreement_id=other.agreement_id,
                invoice_id=other.invoice_id,
                source="payment",
                source_id=990002,
                kind="direct_payment",
                amount=5000,
                event_date=DAY + timedelta(days=3),
                verdict="overpayment",
                refund_amount=5000,
                business_date=DAY + timedelta(days=3),
                created_at=later,
            )
        )
        facts["after_closure_case_id"] = other.case_id
        facts["cases"] = conn.execute(select(func.count()).select_from(ink_case)).scalar_one()
        facts["currency"] = conn.execute(
            select(erp_client.c.currency).where(erp_client.c.client_id == client_id)
        ).scalar_one()
    return facts
