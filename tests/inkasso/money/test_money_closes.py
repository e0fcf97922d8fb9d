"""Every øre of a case from dispatch to the ledger, in both booking modes, on SQLite and
PostgreSQL: collected money reaches the invoice, no invoice stays at collection once its case
has ended, payouts are reconciled against what was collected since the previous payout, and the
project's own check proves the books after every step."""

from __future__ import annotations

from datetime import timedelta

import pendulum
import pytest

from inkasso.bank.payouts import reconcile_payouts
from inkasso.cli import main as cli
from tests.inkasso.money.world import (
    AGREEMENT,
    OPENED,
    SENT,
    books_close,
    kid,
    new_world,
    open_cases,
)

D1, D2, D3 = (SENT + timedelta(days=n) for n in (3, 4, 5))
A, B, C = 101, 102, 103  # paid in two parts, uncollectible after a part, recalled


@pytest.fixture(params=["bank", "settlement"])
def world(request, erp_engine, tmp_path):
    """An empty world in one booking mode (the cases are opened by each test)."""
    return new_world(erp_engine, tmp_path / "files", request.param)


def verdicts(world) -> list[tuple]:
    with world.engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(
            text(
                "SELECT case_id, amount, reconciliation, settled_amount FROM ink_payout "
                "ORDER BY payment_date, payout_id"
            )
        ).all()
    return [tuple(r) for r in rows]


def test_collected_money_reaches_the_invoices_and_the_books_close(world):
    open_cases(world.engine, {A: 100_000, B: 50_000, C: 80_000})
    books_close(world, SENT)

    # day 1: the agency collects part of A and of B (B then ends uncollectible); C is recalled
    world.adjustment(C, "recall", 80_000, D1)
    world.corrections(D1)  # the recall is reported (RC) while the case is open
    world.closure(
        D1,
        [
            {"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000},
            {"case_id": B, "status": "uncollectible", "collected": 10_000, "remaining": 40_000},
            {"case_id": C, "status": "recalled", "collected": 0, "remaining": 80_000},
        ],
    )
    assert world.invoice(C) == {"status": "credited", "remaining": 0}
    if world.mode == "bank":  # the closure leaves the ledger alone: the payouts are on their way
        assert world.invoice(A) == {"status": "at_collection", "remaining": 100_000}
        assert world.invoice(B) == {"status": "payout_pending", "remaining": 50_000}
    else:  # settlement: booked against the interim account at once
        assert world.invoice(A) == {"status": "at_collection", "remaining": 70_000}
        assert world.invoice(B) == {"status": "collection_ended", "remaining": 40_000}
    report = books_close(world, D1)
    assert report.totals["SEK"]["collected"] == 40_000

    # day 2: the payouts of day 1 arrive: per invoice by KID (bank), one lump (settlement)
    if world.mode == "bank":
        world.bank_file(
            D2,
            [
                {"reference": kid(A), "amount": 30_000, "paid_on": D1, "from_agency": True},
                {"reference": kid(B), "amount": 10_000, "paid_on": D1, "from_agency": True},
            ],
        )
    else:
        world.bank_file(D2, [{"reference": "91234", "amount": 40_000, "paid_on": D1,
                              "from_agency": True}])  # fmt: skip
    assert world.invoice(A) == {"status": "at_collection", "remaining": 70_000}
    assert world.invoice(B) == {"status": "collection_ended", "remaining": 40_000}
    assert world.scalar("SELECT COUNT(*) FROM erp_payment WHERE kind = 'direct'") == 0
    books_close(world, D2)

    # day 2: the rest of A is collected; day 3 its payout
    world.closure(D2, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    expected_a = "payout_pending" if world.mode == "bank" else "paid"
    assert world.invoice(A)["status"] == expected_a
    books_close(world, D2)
    world.bank_file(
        D3,
        [{"reference": kid(A) if world.mode == "bank" else "91235", "amount": 70_000,
          "paid_on": D2, "from_agency": True}],
    )  # fmt: skip
    assert world.invoice(A) == {"status": "paid", "remaining": 0}

    # each payout matches the change in collected amount since the previous payout
    with world.engine.begin() as conn:
        outcome = reconcile_payouts(conn, [AGREEMENT], D3)
    assert (outcome["matched"], outcome["differs"], outcome["missing"]) == (
        (3, 0, 0) if world.mode == "bank" else (2, 0, 0)
    )
    assert outcome["missing_payouts"] == []
    if world.mode == "bank":
        assert verdicts(world) == [
            (A, 30_000, "matched", 30_000),
            (B, 10_000, "matched", 10_000),
            (A, 70_000, "matched", 70_000),
        ]
    else:
        assert verdicts(world) == [
            (None, 40_000, "matched", 40_000),
            (None, 70_000, "matched", 70_000),
        ]
        balance = world.scalar(
            "SELECT SUM(debit) - SUM(credit) FROM erp_journal_line WHERE account = '1684'"
        )
        assert balance == 0
    report = books_close(world, D3)
    totals = report.totals["SEK"]
    assert totals == {
        "sent": 230_000, "collected": 110_000, "direct": 0, "credited": 0, "recalled": 80_000,
        "written_off": 0, "sent_again": 0, "open": 40_000, "refund_due": 0, "in_transit": 0,
    }  # fmt: skip
    assert any("collection ended" in item and "400,00 SEK" in item for item in report.listed)


def test_a_payout_short_of_the_collection_differs_and_a_late_one_is_listed(world):
    open_cases(world.engine, {A: 100_000, B: 60_000})
    world.closure(D1, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    world.closure(D1, [{"case_id": B, "status": "paid", "collected": 60_000, "remaining": 0}])
    short = {"amount": 97_500, "paid_on": D1, "from_agency": True}
    short["reference"] = kid(A) if world.mode == "bank" else "91234"
    later = D1 + timedelta(days=5)
    world.bank_file(later, [short])
    with world.engine.begin() as conn:
        outcome = reconcile_payouts(conn, [AGREEMENT], later)
    assert outcome["differs"] == 1
    (_, amount, verdict, settled) = verdicts(world)[0]
    assert (amount, verdict) == (97_500, "differs")
    if world.mode == "bank":  # per case: B's payout never came
        assert settled == 100_000
        assert outcome["missing_payouts"] == [
            {"agreement_id": AGREEMENT, "case_id": B, "from": D1.isoformat(),
             "to": D1.isoformat(), "amount": 60_000}
        ]  # fmt: skip
        assert world.invoice(A) == {"status": "payout_pending", "remaining": 2_500}
    else:
        assert settled == 160_000
        balance = world.scalar(
            "SELECT SUM(debit) - SUM(credit) FROM erp_journal_line WHERE account = '1684'"
        )
        assert balance == 62_500  # explained: collected 160 000.00, paid out 97 500.00
    report = books_close(world, later)
    assert any("differs" in item for item in report.listed)


def test_a_payout_before_the_closure_reporting_it_reconciles_once_the_closure_arrives(world):
    """Agencies pay first and send the closure a day later. Each payout reconciles against the
    collection the next closure reports, in instalments too (each paid a day before its closure),
    and the collection is not listed as waiting for a payout (was: the payout 'missing', its
    collection paid by the next instalment's payout, the last one 'waiting' for ever)."""
    open_cases(world.engine, {A: 100_000})
    ref = kid(A) if world.mode == "bank" else "91234"
    d0, d5 = D1 - timedelta(days=1), D3 + timedelta(days=2)
    world.bank_file(D1, [{"reference": ref, "amount": 40_000, "paid_on": d0, "from_agency": True}])
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 40_000, "remaining": 60_000}]
    )
    world.bank_file(D3, [{"reference": ref, "amount": 60_000, "paid_on": D2, "from_agency": True}])
    world.closure(D3, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    with world.engine.begin() as conn:
        outcome = reconcile_payouts(conn, [AGREEMENT], d5)
    assert (outcome["matched"], outcome["differs"], outcome["missing"]) == (2, 0, 0)
    assert outcome["missing_payouts"] == []
    settled = [(amount, verdict, s) for _, amount, verdict, s in verdicts(world)]
    assert settled == [(40_000, "matched", 40_000), (60_000, "matched", 60_000)]
    report = books_close(world, d5)
    assert not [i for i in report.listed if "waiting" in i or "missing" in i], report.listed
    assert world.invoice(A) == {"status": "paid", "remaining": 0}


def test_a_payout_ahead_pays_the_next_closure_only(world):
    """A payout ahead of its closure pays that closure's collection only: the next closure,
    reported before the agency's next payout, is paid by that payout (was: the first payout
    'missing', both collections on the second, which 'differs')."""
    open_cases(world.engine, {A: 100_000})
    ref = kid(A) if world.mode == "bank" else "91234"
    pay = {"reference": ref, "from_agency": True}
    world.bank_file(D1, [pay | {"amount": 30_000, "paid_on": D1 - timedelta(days=1)}])
    world.closure(
        D1, [{"case_id": A, "status": "partly_paid", "collected": 30_000, "remaining": 70_000}]
    )
    world.closure(
        D2, [{"case_id": A, "status": "partly_paid", "collected": 50_000, "remaining": 50_000}]
    )
    world.bank_file(D3, [pay | {"amount": 20_000, "paid_on": D3}])
    with world.engine.begin() as conn:
        outcome = reconcile_payouts(conn, [AGREEMENT], D3)
    assert outcome["matched"] == 2 and outcome["missing_payouts"] == []
    rows = [(amount, verdict, s) for _, amount, verdict, s in verdicts(world)]
    assert rows == [(30_000, "matched", 30_000), (20_000, "matched", 20_000)]


def test_a_payout_long_before_any_closure_pays_nothing(world):
    """Paid more than the grace days before the closure: not taken for that closure's payout
    (a person looks at both), and the collection waits for its payout."""
    open_cases(world.engine, {A: 100_000})
    ref = kid(A) if world.mode == "bank" else "91234"
    world.bank_file(D1, [{"reference": ref, "amount": 100_000, "paid_on": SENT,
                          "from_agency": True}])  # fmt: skip
    world.closure(D1, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    through = D1 + timedelta(days=3)
    with world.engine.begin() as conn:
        outcome = reconcile_payouts(conn, [AGREEMENT], through)
    assert outcome["missing"] == 1 and outcome["matched"] == 0
    assert [m["amount"] for m in outcome["missing_payouts"]] == [100_000]


@pytest.mark.parametrize("world", ["settlement"], indirect=True)  # bank mode books no closure
def test_a_settlement_booked_when_the_case_opened_counts_as_booked_while_it_is_open(world):
    """The settlement payment's ``booked_at`` is stored as ``ink_case.opened_at`` is (SQLite
    compares them as text: the driver's own ``...+00:00`` sorts before ``....000000``), so a
    payment booked at the moment the case opened counts as booked while it was open."""
    open_cases(world.engine, {A: 100_000})
    world.clock = OPENED - timedelta(minutes=20)  # the closure is applied at OPENED
    world.closure(D1, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    with world.engine.connect() as conn:
        from sqlalchemy import text

        row = conn.execute(
            text(
                "SELECT p.booked_at >= k.opened_at, p.booked_at <= k.opened_at,"
                " CAST(p.booked_at AS VARCHAR(40)) = CAST(k.opened_at AS VARCHAR(40))"
                " FROM erp_payment p JOIN ink_case k ON k.invoice_id = p.invoice_id"
                " WHERE p.kind = 'agency_settlement'"
            )
        ).one()
    assert tuple(bool(v) for v in row) == (True, True, True)


def test_money_after_a_closure_is_detected_once_and_classified(world):
    open_cases(world.engine, {A: 100_000, B: 50_000})
    world.closure(
        D1,
        [
            {"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0},
            {"case_id": B, "status": "closed", "collected": 0, "remaining": 50_000},
        ],
    )
    if world.mode == "bank":
        world.bank_file(D2, [{"reference": kid(A), "amount": 100_000, "paid_on": D1,
                              "from_agency": True}])  # fmt: skip
    assert world.invoice(A) == {"status": "paid", "remaining": 0}
    assert world.invoice(B) == {"status": "collection_ended", "remaining": 50_000}

    # the debtor of A pays the creditor too; a credit note on A (settled) and on B (ended unpaid)
    world.bank_file(D3, [{"reference": kid(A), "amount": 20_000, "paid_on": D2}])
    world.adjustment(A, "credit_note", 5_000, D2)
    world.adjustment(B, "credit_note", 10_000, D2)
    out = world.corrections(D3)
    assert out["after_closure"] == 3 and out["status"] == "nothing_to_report"
    assert out["refund_amount"] == 25_000
    with world.engine.connect() as conn:
        from sqlalchemy import text

        rows = conn.execute(
            text(
                "SELECT case_id, kind, amount, verdict, refund_amount FROM ink_after_closure "
                "ORDER BY case_id, kind"
            )  # fmt: skip
        ).all()
    assert [tuple(r) for r in rows] == [
        (A, "credit_note", 5_000, "refund_due", 5_000),
        (A, "direct_payment", 20_000, "overpayment", 20_000),
        (B, "credit_note", 10_000, "reduces_open", 0),
    ]
    assert world.corrections(D3)["after_closure"] == 0  # recorded once
    report = books_close(world, D3)
    refund = [item for item in report.listed if "refund to handle" in item]
    assert len(refund) == 1 and "250,00" in refund[0]
    assert world.invoice(B) == {"status": "collection_ended", "remaining": 40_000}


def test_a_back_dated_credit_note_is_reported_to_the_agency(world):
    open_cases(world.engine, {A: 100_000})
    world.adjustment(A, "credit_note", 7_000, SENT - timedelta(days=10))
    out = world.corrections(D1)
    assert (out["status"], out["corrections"], out["amount"]) == ("written", 1, 7_000)
    assert world.corrections(D2)["status"] == "nothing_to_report"
    books_close(world, D2)


def test_the_check_finds_wrong_money_and_the_cli_fails(world, capsys, erp_url):
    open_cases(world.engine, {A: 100_000})
    world.closure(D1, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    assert cli(["check", "--date", D1.isoformat(), "--url", erp_url]) == 0
    with world.engine.begin() as conn:
        from sqlalchemy import text

        conn.execute(text("UPDATE erp_invoice SET remaining_amount = 12345, status = "
                          "'at_collection' WHERE invoice_id = :i"), {"i": A})  # fmt: skip
    assert cli(["check", "--date", D1.isoformat(), "--url", erp_url]) == 1
    printed = capsys.readouterr().out
    assert "ERP remaining 123,45" in printed
    assert "status 'at_collection'" in printed


def test_airflow_dates_reach_the_ledger_on_every_database(world):
    """Airflow passes pendulum dates: payouts and reconciliation take them (SQLite too)."""
    open_cases(world.engine, {A: 100_000})
    world.closure(D1, [{"case_id": A, "status": "paid", "collected": 100_000, "remaining": 0}])
    world.bank_file(
        pendulum.date(D2.year, D2.month, D2.day),
        [{"reference": kid(A) if world.mode == "bank" else "9", "amount": 100_000,
          "paid_on": D1, "from_agency": True}],
    )  # fmt: skip
    with world.engine.begin() as conn:
        outcome = reconcile_payouts(conn, [AGREEMENT], pendulum.date(D2.year, D2.month, D2.day))
    assert outcome["matched"] == 1
    books_close(world, pendulum.date(D2.year, D2.month, D2.day))


def test_the_demo_erps_credit_notes_and_recalls_are_registered_and_never_below_zero(world):
    from inkasso_demo.erp.adjustments import simulate_collection_adjustments

    open_cases(world.engine, {A: 100_000, B: 50_000, C: 80_000})
    done = simulate_collection_adjustments(world.engine, D1, seed=1)
    assert done["credit_notes"] + done["recalls"] == 3 and not done["repeated"]
    assert simulate_collection_adjustments(world.engine, D1, seed=1)["repeated"]
    assert world.scalar("SELECT COUNT(*) FROM erp_invoice_adjustment WHERE booked_at IS NULL") == 0
    assert world.scalar("SELECT MIN(remaining_amount) FROM erp_invoice") >= 0
    out = world.corrections(D1)  # everything the ERP registered reaches the agency once
    assert out["corrections"] == 3
    books_close(world, D1)
