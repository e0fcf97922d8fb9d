"""inkasso_bank_import end to end: real Airflow runs (dag.test) over the demo bank's files in the
client drops, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert, text

from conftest import frame

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 2)
OSLO = "Europe/Oslo"


@pytest.fixture(scope="module")
def bank_dag(load_dag):
    return load_dag("inkasso_bank_import")


def run(dag, day=DAY):
    import pendulum

    return dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, 4, tz=OSLO))


def settle(engine, agreement_id: str, collected: int, closed: date) -> None:
    """An agency closure: one case of the agreement closed with money collected (the case and
    the collection its payout must match, as inbound records them)."""
    from inkasso.db.schema import ink_case, ink_collection, ink_file_log

    with engine.begin() as conn:
        client_id, invoice_id, customer_id = conn.execute(
            text(
                "SELECT a.client_id, i.invoice_id, i.customer_id FROM ink_agreement a "
                "JOIN erp_invoice i ON i.client_id = a.client_id WHERE a.agreement_id = :a "
                "AND i.status = 'paid' ORDER BY i.invoice_id LIMIT 1"
            ),
            {"a": agreement_id},
        ).one()
        file_id = conn.execute(
            insert(ink_file_log).values(
                client_id=client_id, agreement_id=agreement_id, direction="in", kind="closure",
                file_name=f"Avsl_{agreement_id}.txt", business_date=closed, status="applied",
                path="-", sha256="x", size_bytes=1, record_count=1, amount_total=collected,
                created_at=pd.Timestamp("2026-11-01", tz="UTC"),
            )
        ).inserted_primary_key[0]  # fmt: skip
        case_id = conn.execute(
            insert(ink_case).values(
                agreement_id=agreement_id, invoice_id=invoice_id, customer_id=customer_id,
                file_id=file_id, status="paid", is_open=False, original_amount=collected,
                sent_amount=collected, currency="NOK", business_date=closed,
                opened_at=pd.Timestamp("2026-10-01", tz="UTC"), collected_amount=collected,
                closed_date=closed,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(ink_collection).values(
                agreement_id=agreement_id, case_id=case_id, invoice_id=invoice_id,
                file_id=file_id, closure_date=closed, amount=collected,
                created_at=pd.Timestamp("2026-11-01", tz="UTC"),
            )
        )  # fmt: skip


def test_a_day_of_bank_files_is_booked_once_with_payouts_kept_apart(
    airflow_db, demo_erp, files_base, bank_dag, reference_dir
):
    from airflow.sdk import ObjectStoragePath

    from inkasso_demo.simulator.bank import write_bank_files

    with demo_erp.begin() as conn:  # Lowell pays one lump (settlement), Svea per invoice (bank)
        conn.execute(text("UPDATE ink_agreement SET booking_mode = CASE agreement_id "
                          "WHEN 'lowell_no' THEN 'settlement' ELSE 'bank' END"))  # fmt: skip
    for agreement in ("lowell_no", "svea"):
        settle(demo_erp, agreement, 123_400, DAY - timedelta(days=1))
    with demo_erp.begin() as conn:  # a few invoices went to collection already
        conn.execute(
            text(
                "UPDATE erp_invoice SET status = 'at_collection' WHERE status = 'open' "
                "AND invoice_id % 7 = 0"
            )
        )
    base = ObjectStoragePath(f"file://{files_base}")
    written = write_bank_files(demo_erp, base, DAY, seed=3)
    assert {w.format for w in written} == {"ocr_giro", "bgmax"}
    assert sum(w.payouts for w in written) == 2
    broken = (reference_dir / "bgmax" / "BgMaxfil4_broken.txt").read_bytes()
    (files_base / "bank" / "5" / "BgMaxfil4_broken.txt").write_bytes(broken)

    assert run(bank_dag).state == "success"

    files = frame(demo_erp, "SELECT client_id, file_name, status, record_count FROM ink_file_log "
                            "WHERE kind IN ('ocr_giro', 'bgmax') ORDER BY client_id, file_name")  # fmt: skip
    assert len(files) == 9
    assert files.loc[files.file_name == "BgMaxfil4_broken.txt", "status"].tolist() == [
        "quarantined"
    ]
    assert set(files.loc[files.file_name != "BgMaxfil4_broken.txt", "status"]) == {"applied"}
    payments = frame(demo_erp, "SELECT kind, COUNT(*) AS n FROM erp_payment GROUP BY kind")
    counts = dict(zip(payments["kind"], payments["n"], strict=True))
    assert counts["agency_payout"] == 1 and counts["collection"] == 1 and counts["direct"] > 10
    assert counts.get("unmatched", 0) >= 1
    assert sum(counts.values()) == sum(w.payments + w.payouts for w in written)
    payouts = frame(demo_erp, "SELECT o.agreement_id, o.reconciliation, p.kind, p.invoice_id, "
                              "o.case_id FROM ink_payout o JOIN erp_payment p USING (payment_id) "
                              "ORDER BY o.agreement_id")  # fmt: skip
    assert payouts["agreement_id"].tolist() == ["lowell_no", "svea"]
    # the lump payout is no payment on an invoice; the KID payout is booked on its invoice
    assert payouts["kind"].tolist() == ["agency_payout", "collection"]
    assert payouts["invoice_id"].isna().tolist() == [True, False]
    assert payouts["case_id"].isna().tolist() == [True, False]
    assert set(payouts["reconciliation"]) <= {"matched", "differs"}
    at_collection = frame(demo_erp, "SELECT COUNT(*) AS n FROM erp_payment p JOIN erp_invoice i "
                                    "USING (invoice_id) WHERE i.status = 'at_collection'")  # fmt: skip
    assert at_collection["n"][0] >= 1

    before = {
        t: frame(demo_erp, f"SELECT * FROM {t} ORDER BY 1")
        for t in ("erp_payment", "erp_invoice", "ink_file_log", "ink_payout", "erp_journal_line")
    }
    assert run(bank_dag).state == "success"
    for table, rows in before.items():
        pd.testing.assert_frame_equal(
            frame(demo_erp, f"SELECT * FROM {table} ORDER BY 1"), rows, obj=table
        )
