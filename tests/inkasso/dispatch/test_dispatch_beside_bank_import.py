"""A dispatch and a bank import of one client at once (a rerun, a backfill, the scheduled bank
import beside the dispatch): a direct payment on an invoice being sent is taken off the amount
sent or reported to the agency as a correction, exactly one of the two, whatever the order the
runs started and committed in (SQLite and PostgreSQL).

The case's sent amount is the invoice's remaining amount when the dispatch read it; the
corrections run reports a payment with ``booked_at >= opened_at``. Stamped with each task's start
time, a bank import that started first but committed after the dispatch's read was never
reported (the agency chased money already paid), and one that committed before the read of a
dispatch that started first was reported again (taken off twice). The sequential tests run the
two in one commit order with the start times either way round (on SQLite overlapping runs are
serialized exactly so); the threaded ones run them at once.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta

import pytest
from sqlalchemy import insert

from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.model import payments_frame
from inkasso.db.schema import erp_client, ink_agreement
from tests.db_helpers import query_one as one
from tests.db_helpers import query_rows as rows
from tests.inkasso.dispatch.test_dispatch_agreement import CLIENTS, CUTOFF, DAY, NOW, customer

AGREEMENT, CLIENT = "svea", 2  # Swedish: BgMax, SEK
OWED, PAID = 12_345, 2_000
HOUR = timedelta(hours=1)


@pytest.fixture
def base(tmp_path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{tmp_path / 'files'}")


@pytest.fixture
def erp(erp_engine):
    """One Swedish client with a Svea agreement (as in test_dispatch_agreement); no customers."""
    c = CLIENTS[AGREEMENT]
    with erp_engine.begin() as conn:
        conn.execute(
            insert(erp_client).values(
                client_id=CLIENT, name="Client svea", org_no="923609016", country="SE",
                currency="SEK", min_collection_amount=5_000, default_bank_account=c["account"],
                register_lookup=False, report_recipients="x@example.com",
            )
        )  # fmt: skip
        conn.execute(
            insert(ink_agreement).values(
                agreement_id=AGREEMENT, client_id=CLIENT, agency="svea", country="SE",
                customer_no_at_agency="40012", agency_bank_account="99998877665", mode="sftp",
                sftp_conn_id="inkasso_sftp_svea",
            )
        )  # fmt: skip
    return erp_engine


def bank_import(engine, base, invoice_id: int, now: datetime) -> dict:
    """The client's bank file of the day: the debtor paid ``PAID`` on the invoice's OCR number."""
    kid = one(engine, "SELECT kid FROM erp_invoice WHERE invoice_id = :i", i=invoice_id)
    payment = {
        "payment_ref": "P1", "payer_account": "1234567", "reference": kid, "amount": PAID,
        "payment_date": DAY - timedelta(days=1), "payee_account": "50501055",
        "currency": "SEK", "payer_name": "", "line": 0,
    }  # fmt: skip
    data = write_bgmax(
        payments_frame([payment]), payee_bankgiro="50501055", written_at=datetime(2026, 11, 2, 3)
    )
    from inkasso.bank.importer import import_bank_file

    result = import_bank_file(
        engine, CLIENT, "BGMAX.txt", data, business_date=DAY, base=base / "bank", now=now
    )
    assert result["status"] == "applied" and result["direct"] == 1, result
    return result


def dispatch(engine, base, now: datetime) -> dict:
    """The agreement's new-case file of the day, the run started at ``now``."""
    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases

    (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
    result = prepare_new_cases(engine, agreement, DAY, CUTOFF, base, now=now)
    assert result["status"] == "written" and result["cases"] == 1, result
    return result


def reported(engine, base) -> list[int]:
    """Run the agreement's corrections twice (a rerun); the payments reported to the agency."""
    from inkasso.agreements import load_agreements
    from inkasso.corrections import prepare_corrections

    (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
    for minutes in (0, 1):
        at = NOW + 6 * HOUR + timedelta(minutes=minutes)
        prepare_corrections(engine, agreement, DAY, base, now=at)
    return [
        a for (a,) in rows(engine, "SELECT amount FROM ink_correction WHERE source = 'payment'")
    ]


def assert_taken_off_once(engine, base, *, sent: int) -> None:
    """The case was sent with ``sent``; the payment was reported iff the case holds it, once;
    and the case's books (`inkasso.money.books`) leave what the ERP's invoice shows."""
    from inkasso.money.books import case_books

    assert one(engine, "SELECT sent_amount FROM ink_case") == sent
    corrections = reported(engine, base)
    assert corrections == ([PAID] if sent == OWED else [])
    with engine.connect() as conn:
        (books,) = case_books(conn, agreement_ids=[AGREEMENT]).to_dict("records")
    assert books["direct"] == (PAID if sent == OWED else 0)
    assert books["open"] == OWED - PAID == books["erp_remaining"]


@pytest.mark.parametrize("bank_started", [-HOUR, HOUR], ids=["bank_first", "dispatch_first"])
def test_a_payment_booked_before_the_dispatch_read_the_invoice_is_taken_off_once(
    erp, base, bank_started
):
    """The booking commits first: the case is sent without the money and nothing is reported,
    also when the dispatch started earlier (its stamp was before the booking's)."""
    invoice = customer(erp, AGREEMENT, "Anna Berg")
    bank_import(erp, base, invoice, NOW + bank_started)
    dispatch(erp, base, NOW)
    assert_taken_off_once(erp, base, sent=OWED - PAID)


@pytest.mark.parametrize("bank_started", [-HOUR, HOUR], ids=["bank_first", "dispatch_first"])
def test_a_payment_booked_after_the_dispatch_read_the_invoice_is_reported_once(
    erp, base, bank_started
):
    """The dispatch commits first: the case is sent with the money owed and the payment is
    reported once, also when the bank import started earlier (its stamp was before the case's)."""
    invoice = customer(erp, AGREEMENT, "Anna Berg")
    dispatch(erp, base, NOW)
    bank_import(erp, base, invoice, NOW + bank_started)
    assert_taken_off_once(erp, base, sent=OWED)


def _second_while_first_inside(monkeypatch, module, step: str, first, second) -> None:
    """Run ``first`` in a thread; once it is inside ``module.step`` (held there a while), run
    ``second`` in another; both must end without error."""
    inside, real, calls, errors = threading.Event(), getattr(module, step), [], []

    def slow(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            inside.set()
            time.sleep(1.5)
        return real(*args, **kwargs)

    def run(work):
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    monkeypatch.setattr(module, step, slow)
    threads = [threading.Thread(target=run, args=(first,))]
    threads[0].start()
    assert inside.wait(60)
    threads.append(threading.Thread(target=run, args=(second,)))
    threads[1].start()
    for thread in threads:
        thread.join(120)
    assert not errors, errors


@pytest.mark.parametrize("bank_started", [-HOUR, HOUR], ids=["bank_first", "dispatch_first"])
def test_a_dispatch_beside_a_booking_in_progress_reads_the_invoice_paid(
    erp, base, monkeypatch, bank_started
):
    """A bank import is booking the payment when the dispatch starts: the dispatch waits for it
    (PostgreSQL would otherwise read the invoice as it was before), sends the case without the
    money and nothing is reported."""
    import inkasso.bank.importer as importer

    invoice = customer(erp, AGREEMENT, "Anna Berg")
    _second_while_first_inside(
        monkeypatch, importer, "book_staged",
        lambda: bank_import(erp, base, invoice, NOW + bank_started),
        lambda: dispatch(erp, base, NOW),
    )  # fmt: skip
    assert_taken_off_once(erp, base, sent=OWED - PAID)


@pytest.mark.parametrize("bank_started", [-HOUR, HOUR], ids=["bank_first", "dispatch_first"])
def test_a_booking_beside_a_dispatch_in_progress_is_reported(erp, base, monkeypatch, bank_started):
    """A dispatch has read the invoice and is opening its case when a bank import books a
    payment on it: the booking waits for the dispatch, and the payment is reported once."""
    import inkasso.dispatch.run as run

    invoice = customer(erp, AGREEMENT, "Anna Berg")
    _second_while_first_inside(
        monkeypatch, run, "open_cases",
        lambda: dispatch(erp, base, NOW),
        lambda: bank_import(erp, base, invoice, NOW + bank_started),
    )  # fmt: skip
    assert_taken_off_once(erp, base, sent=OWED)
