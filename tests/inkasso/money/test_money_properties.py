"""Property test: random case lifecycles through the real flows, the books checked after every
step, in both booking modes, on SQLite and PostgreSQL.

Each example opens three cases and plays a random sequence of what happens in real life: the
agency collects part, ends a case (paid, closed, uncollectible, recalled) or rejects it; the
debtor pays the creditor directly (before or after the closure); the creditor issues credit
notes and recalls (before or after); the agency pays out what it collected (per invoice in bank
mode, one lump in settlement mode); the corrections run reports to the agency. Closures, receipts
and bank files are real files through the real readers and apply steps. After every step the
project's check (``inkasso.money.check``) must find no violation.

CI runs a few examples per combination; ``HYPOTHESIS_PROFILE=long make test`` runs many.
"""

from __future__ import annotations

import os
import tempfile
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.money.check import check_books
from tests.inkasso.money.world import (
    SENT,
    World,
    kid,
    new_world,
    open_cases,
    receipt_rejecting,
)
from tests.pg import drop_postgres, new_postgres_url

CASES = {201: 120_000, 202: 45_000, 203: 80_000}
EXAMPLES = 40 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 3
ENDINGS = ("paid", "closed", "uncollectible", "recalled")

case_ids = st.sampled_from(sorted(CASES))
share = st.integers(min_value=5, max_value=90)
steps = st.lists(
    st.one_of(
        st.tuples(st.just("collect"), case_ids, share),
        st.tuples(st.just("end"), case_ids, st.sampled_from(ENDINGS)),
        st.tuples(st.just("reject"), case_ids, st.just(0)),
        st.tuples(st.just("direct"), case_ids, share),
        st.tuples(st.just("credit"), case_ids, share),
        st.tuples(st.just("recall"), case_ids, st.just(0)),
        st.tuples(st.just("payout"), st.just(0), st.just(0)),
    ),
    min_size=4,
    max_size=9,
)


class Agency:
    """What the agency knows and has done: per case its claim, collected, paid out, status."""

    def __init__(self, world: World):
        self.world = world
        self.cases = {
            c: {"sent": s, "collected": 0, "paid_out": 0, "open": True} for c, s in CASES.items()
        }

    def claim(self, case_id: int) -> int:
        """What the agency may still collect: sent less what the corrections told it."""
        reported = self.world.scalar(
            "SELECT COALESCE(SUM(amount), 0) FROM ink_correction "
            "WHERE case_id = :c AND correction_type IN ('DP', 'CN')",
            c=case_id,
        )
        return max(self.cases[case_id]["sent"] - int(reported), 0)

    def recalled(self, case_id: int) -> bool:
        """Whether the creditor recalled the case (an RC correction reached the agency)."""
        return bool(
            self.world.scalar(
                "SELECT COUNT(*) FROM ink_correction WHERE case_id = :c AND correction_type = 'RC'",
                c=case_id,
            )
        )


def play(world: World, agency: Agency, step, day) -> None:
    """One step of real life on ``day`` through the real flows."""
    what, case_id, arg = step
    case = agency.cases.get(case_id)
    if what == "collect" and case["open"] and not agency.recalled(case_id):
        left = agency.claim(case_id) - case["collected"]
        if left > 1:
            case["collected"] += max(1, left * arg // 100)
            remaining = agency.claim(case_id) - case["collected"]
            world.closure(day, [dict(case_id=case_id, status="partly_paid",
                                     collected=case["collected"], remaining=remaining)])  # fmt: skip
    elif what == "end" and case["open"]:
        status = "recalled" if agency.recalled(case_id) else arg
        if status == "paid":
            case["collected"] = max(case["collected"], agency.claim(case_id))
        case["open"] = False
        remaining = max(agency.claim(case_id) - case["collected"], 0)
        world.closure(day, [dict(case_id=case_id, status=status, collected=case["collected"],
                                 remaining=remaining)])  # fmt: skip
    elif what == "reject" and case["open"] and case["collected"] == 0:
        case["open"] = False
        receipt_rejecting(world, day, case_id)
    elif what == "direct":
        amount = max(100, CASES[case_id] * arg // 100)
        world.bank_file(day, [{"reference": kid(case_id), "amount": amount}])
        world.corrections(day)
    elif what in ("credit", "recall"):
        remaining = world.invoice(case_id)["remaining"]
        amount = remaining if what == "recall" else max(100, CASES[case_id] * arg // 200)
        if amount > 0:
            world.adjustment(case_id, "credit_note" if what == "credit" else "recall", amount, day)
            world.corrections(day)
    elif what == "payout":
        pay_out(world, agency, day)


def pay_out(world: World, agency: Agency, day) -> None:
    """The agency pays what it collected and has not paid: per KID (bank) or one lump."""
    owed = {c: s["collected"] - s["paid_out"] for c, s in agency.cases.items()}
    owed = {c: a for c, a in owed.items() if a > 0}
    if not owed:
        return
    if world.mode == "bank":
        payments = [
            {"reference": kid(c), "amount": a, "paid_on": day, "from_agency": True}
            for c, a in owed.items()
        ]
    else:
        payments = [{"reference": "9" + day.strftime("%Y%m%d"), "amount": sum(owed.values()),
                     "paid_on": day, "from_agency": True}]  # fmt: skip
    world.bank_file(day + timedelta(days=1), payments)
    for c, a in owed.items():
        agency.cases[c]["paid_out"] += a


def _new_world(database: str, mode: str) -> tuple[World, str]:
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso.db.schema import erp_metadata

    tmp = tempfile.mkdtemp(prefix="inkasso-money-")
    url = f"sqlite:///{tmp}/erp.sqlite" if database == "sqlite" else new_postgres_url()
    engine = engine_for_url(url)
    erp_metadata.create_all(engine)
    upgrade(engine)
    return new_world(engine, f"{tmp}/files", mode), url


@pytest.mark.parametrize("mode", ["bank", "settlement"])
@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_random_lifecycles_keep_the_books_closed(database, mode):
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=os.environ.get("HYPOTHESIS_PROFILE") != "long",
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(steps)
    def lifecycle(plan):
        world, url = _new_world(database, mode)
        try:
            open_cases(world.engine, CASES)
            agency = Agency(world)
            day = SENT
            for step in [*plan, ("payout", 0, 0)]:
                day += timedelta(days=1)
                play(world, agency, step, day)
                report = check_books(world.engine, day)
                assert report.violations == [], (step, report.violations)
        finally:
            world.engine.dispose()
            if database == "postgres":
                drop_postgres(url)

    lifecycle()
