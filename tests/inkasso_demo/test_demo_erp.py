"""The demo ERP generator: valid ids, every invoice state, the rule edges, reproducible data."""

from __future__ import annotations

import hashlib
import random
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from stdnum import luhn
from stdnum.no import fodselsnummer, kontonr
from stdnum.no import orgnr as stdnum_no_orgnr
from stdnum.se import orgnr as stdnum_se_orgnr
from stdnum.se import personnummer

from inkasso.db.schema import (
    erp_client,
    erp_customer,
    erp_invoice,
    erp_metadata,
    erp_person_register,
    ink_agreement,
    pipeline_metadata,
)
from inkasso_demo.erp import DemoErpExistsError, create_demo_erp, ids, simulate_erp_day
from inkasso_demo.erp.day import demo_erp_day, demo_metadata

START = date(2025, 3, 3)
CUSTOMERS = 2500
PG_URL = "postgresql+psycopg2://postgres@127.0.0.1:5432/test"
TABLES = (erp_client, ink_agreement, erp_customer, erp_person_register, erp_invoice, demo_erp_day)

# ------------------------------------------------------------------------------ ids

GENERATORS = [
    (ids.no_fodselsnummer, fodselsnummer),
    (ids.no_orgnr, stdnum_no_orgnr),
    (ids.se_personnummer, personnummer),
    (ids.se_orgnr, stdnum_se_orgnr),
]


@pytest.mark.parametrize(("make", "checker"), GENERATORS, ids=lambda v: getattr(v, "__name__", ""))
def test_generated_ids_validate_and_invalidated_ones_do_not(make, checker):
    rng = random.Random(7)
    numbers = [make(rng) for _ in range(1000)]
    assert all(checker.is_valid(n) for n in numbers)
    assert not any(checker.is_valid(ids.invalidate(n)) for n in numbers)


def test_stored_forms_are_the_usual_ones():
    rng = random.Random(3)
    assert len(ids.no_fodselsnummer(rng)) == 11
    assert len(ids.no_orgnr(rng)) == 9
    se_person = ids.se_personnummer(rng)
    assert len(se_person) == 11 and se_person[6] == "-"
    se_org = ids.se_orgnr(rng)
    assert len(se_org) == 11 and se_org[6] == "-" and int(se_org[2]) >= 2


def test_bank_accounts_and_payment_references_validate():
    rng = random.Random(11)
    assert all(kontonr.is_valid(ids.no_bank_account(rng)) for _ in range(1000))
    assert all(luhn.is_valid(ids.se_bankgiro(rng)) for _ in range(1000))
    for _ in range(1000):
        digits = str(rng.randint(1, 10**20))
        assert ids.payment_reference(digits) == digits + luhn.calc_check_digit(digits)


# ------------------------------------------------------------------------------ databases


def _sqlite_engine(path) -> sa.Engine:
    engine = sa.create_engine(f"sqlite:///{path}")
    pipeline_metadata.create_all(engine)
    return engine


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def demo(request, tmp_path_factory):
    """A generated demo ERP (engine, counts), once on SQLite and once on PostgreSQL."""
    schema = None
    if request.param == "sqlite":
        engine = _sqlite_engine(tmp_path_factory.mktemp("erp") / "erp.sqlite")
    else:
        schema = f"demo_erp_{uuid.uuid4().hex[:10]}"
        with sa.create_engine(PG_URL).begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        engine = sa.create_engine(PG_URL, connect_args={"options": f"-csearch_path={schema}"})
        pipeline_metadata.create_all(engine)
    counts = create_demo_erp(engine, customers=CUSTOMERS, start_day=START)
    yield engine, counts
    engine.dispose()
    if schema:
        admin = sa.create_engine(PG_URL)
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def _normal(value):
    """Values as both databases give them back: datetimes as naive UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def checksum(engine: sa.Engine) -> str:
    """SHA-256 over every row of the demo's tables, in primary key order."""
    digest = hashlib.sha256()
    with engine.connect() as conn:
        for table in TABLES:
            for row in conn.execute(sa.select(table).order_by(*table.primary_key.columns)):
                digest.update(repr(tuple(_normal(v) for v in row)).encode())
    return digest.hexdigest()


def _invoices(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(sa.select(erp_invoice).order_by(erp_invoice.c.invoice_id)).all()


# ------------------------------------------------------------------------------ the data


def test_same_seed_same_rows_on_both_databases(demo, tmp_path):
    engine, counts = demo
    again = _sqlite_engine(tmp_path / "again.sqlite")
    assert create_demo_erp(again, customers=CUSTOMERS, start_day=START) == counts
    assert checksum(again) == checksum(engine)
    other = _sqlite_engine(tmp_path / "other.sqlite")
    create_demo_erp(other, seed=43, customers=CUSTOMERS, start_day=START)
    assert checksum(other) != checksum(engine)


def test_generator_never_writes_over_an_existing_erp(demo):
    engine, _ = demo
    with pytest.raises(DemoErpExistsError):
        create_demo_erp(engine, customers=CUSTOMERS, start_day=START)


def test_one_agreement_per_agency_of_the_design(demo):
    engine, _ = demo
    with engine.connect() as conn:
        agreements = {r.agreement_id: r for r in conn.execute(sa.select(ink_agreement))}
        clients = {r.client_id: r for r in conn.execute(sa.select(erp_client))}
    assert set(agreements) == {
        "lowell_no", "creno", "credicare", "lowell_se", "kredithanterarna", "svea", "preventia", "intrum",
    }  # fmt: skip
    assert {a.agency for a in agreements.values()} == {
        "lowell", "creno", "credicare", "kredithanterarna", "svea", "preventia", "intrum",
    }  # fmt: skip
    assert {k for k, a in agreements.items() if a.mode == "manual"} == {"credicare", "intrum"}
    for key, agreement in agreements.items():
        client = clients[agreement.client_id]
        assert agreement.country == client.country
        assert client.currency == {"NO": "NOK", "SE": "SEK"}[client.country]
        assert agreement.sftp_conn_id == (
            None if agreement.mode == "manual" else f"inkasso_sftp_{key}"
        )
        if client.country == "NO":
            assert stdnum_no_orgnr.is_valid(client.org_no)
            assert kontonr.is_valid(agreement.agency_bank_account)
            assert kontonr.is_valid(client.default_bank_account)
        else:
            assert stdnum_se_orgnr.is_valid(client.org_no)
            assert luhn.is_valid(agreement.agency_bank_account)
        assert 5000 <= client.min_collection_amount <= 20000
        assert client.report_recipients.startswith("ekonomi@")


def test_national_ids_valid_except_the_deliberate_few(demo):
    engine, counts = demo
    with engine.connect() as conn:
        customers = conn.execute(sa.select(erp_customer)).all()
        register = conn.execute(sa.select(erp_person_register)).all()
    invalid = [
        c
        for c in customers
        if not ids.is_valid_national_id(c.national_id, c.country, c.is_organisation)
    ]
    assert len(invalid) == counts["invalid_ids"]
    assert 0 < len(invalid) <= len(customers) * 0.01
    assert {c.country for c in invalid} == {"NO", "SE"}
    assert len({c.national_id for c in customers}) == len(customers)
    assert all(ids.is_valid_national_id(p.national_id, p.country, False) for p in register)
    share_org = sum(c.is_organisation for c in customers) / len(customers)
    assert 0.10 < share_org < 0.20
    assert any(ch in c.name for c in customers for ch in "æøåäö")


def test_invoices_in_every_state_with_sound_amounts_and_references(demo):
    engine, counts = demo
    invoices = _invoices(engine)
    assert len(invoices) == counts["invoices"]
    states = Counter(i.status for i in invoices)
    assert set(states) == {"open", "paid", "credited"}  # at_collection is the pipeline's doing
    assert any(i.disputed and i.status == "open" for i in invoices)
    assert {i.reminder_count for i in invoices if i.status == "open"} == {0, 1, 2, 3}
    assert any(0 < i.remaining_amount < i.original_amount for i in invoices if i.status == "open")
    with engine.connect() as conn:
        minimum = dict(
            conn.execute(
                sa.select(erp_client.c.client_id, erp_client.c.min_collection_amount)
            ).all()
        )
    assert any(i.original_amount < minimum[i.client_id] for i in invoices)
    for i in invoices:
        assert isinstance(i.original_amount, int) and isinstance(i.remaining_amount, int)
        assert 0 <= i.remaining_amount <= i.original_amount <= 2_500_000
        assert (i.remaining_amount == 0) == (i.status in ("paid", "credited"))
        assert i.invoice_date < START and (i.due_date - i.invoice_date).days in (14, 30)
        assert luhn.is_valid(i.kid)
    assert len({(i.client_id, i.kid) for i in invoices}) == len(invoices)


def test_marked_invoices_marked_before_the_start_day_including_ones_to_hold_back(demo):
    engine, counts = demo
    marked = [i for i in _invoices(engine) if i.marked_for_collection]
    assert len(marked) == counts["marked"]
    open_overdue = [i for i in _invoices(engine) if i.status == "open" and i.due_date < START]
    assert 0.05 < len(marked) / len(open_overdue) < 0.2
    for i in marked:
        assert i.marked_at is not None
        moment = _normal(i.marked_at)
        assert START - timedelta(days=7) <= moment.date() < START
        if engine.dialect.name == "postgresql":
            assert i.marked_at.tzinfo is not None
    assert any(i.disputed for i in marked)
    assert any(i.status == "paid" for i in marked)


def test_customers_exactly_at_the_minimum_and_one_ore_under(demo):
    engine, counts = demo
    eligible = sa.and_(
        erp_invoice.c.marked_for_collection.is_(True),
        erp_invoice.c.status == "open",
        erp_invoice.c.disputed.is_(False),
    )
    total = sa.func.sum(erp_invoice.c.remaining_amount)
    query = (
        sa.select(erp_invoice.c.customer_id, erp_client.c.client_id, total - erp_client.c.min_collection_amount)
        .join(erp_client, erp_client.c.client_id == erp_invoice.c.client_id)
        .where(eligible)
        .group_by(erp_invoice.c.customer_id, erp_client.c.client_id, erp_client.c.min_collection_amount)
    )  # fmt: skip
    with engine.connect() as conn:
        diffs = conn.execute(query).all()
    exact = {client for _, client, diff in diffs if diff == 0}
    under = {client for _, client, diff in diffs if diff == -1}
    assert exact == under == set(range(1, 9))
    assert counts["customers_at_minimum"] == counts["customers_one_under_minimum"] == 8


def test_every_address_case_is_present(demo):
    engine, counts = demo
    with engine.connect() as conn:
        customers = conn.execute(sa.select(erp_customer)).all()
        register = {p.national_id: p for p in conn.execute(sa.select(erp_person_register))}
    invoices = _invoices(engine)

    def full(street, postcode, city):
        return bool(street and postcode and city)

    persons = [c for c in customers if not c.is_organisation]
    postal = [full(c.postal_street, c.postal_postcode, c.postal_city) for c in customers]
    assert any(p and c.postal_source == "manual" for p, c in zip(postal, customers, strict=True))
    assert any(p and c.postal_source == "register" for p, c in zip(postal, customers, strict=True))
    assert any(c.postal_street is None and c.postal_city is None for c in customers)
    assert any(
        c.postal_street and not full(c.postal_street, c.postal_postcode, c.postal_city)
        for c in customers
    )
    assert any(full(c.billing_street, c.billing_postcode, c.billing_city) for c in customers)
    assert any(c.billing_street and not c.billing_city for c in customers) or any(
        c.billing_street and not c.billing_postcode for c in customers
    )
    in_register = [c for c in persons if c.national_id in register]
    moved = [c for c in in_register if register[c.national_id].street != c.postal_street]
    assert moved and len(in_register) < len(persons)  # some moved, some not in the register at all
    assert not any(c.national_id in register for c in customers if c.is_organisation)
    by_hand = [i for i in invoices if i.addr_changed_manually]
    assert any(full(i.addr_street, i.addr_postcode, i.addr_city) for i in by_hand)
    assert any(not full(i.addr_street, i.addr_postcode, i.addr_city) for i in by_hand)
    assert any(i.marked_for_collection for i in by_hand)
    assert counts["addr_changed_manually"] == len(by_hand)
    codes = {c.country: c.postal_postcode for c in customers if c.postal_postcode}
    assert codes["NO"].isdigit() and len(codes["NO"]) == 4
    assert len(codes["SE"]) == 6 and codes["SE"][3] == " "


# ------------------------------------------------------------------------------ a day


def test_an_erp_day_happens_once_and_the_same_way(demo, tmp_path):
    engine, _ = demo
    day = START
    before = {i.invoice_id: i for i in _invoices(engine)}
    first = simulate_erp_day(engine, day)
    after_first = checksum(engine)
    again = simulate_erp_day(engine, day)
    assert checksum(engine) == after_first
    assert again == {**first, "repeated": True} and first["repeated"] is False
    assert first["new_invoices"] > 0 and first["payments"] > 0 and first["marked"] > 0

    after = {i.invoice_id: i for i in _invoices(engine)}
    new = [i for k, i in after.items() if k not in before]
    assert len(new) == first["new_invoices"]
    assert all(i.invoice_date == day and i.status == "open" and luhn.is_valid(i.kid) for i in new)
    changed = [(before[k], after[k]) for k in before if before[k] != after[k]]
    paid = [(b, a) for b, a in changed if a.remaining_amount < b.remaining_amount]
    assert len(paid) == first["payments"]
    assert all((a.status == "paid") == (a.remaining_amount == 0) for _, a in paid)
    newly_marked = [
        a for b, a in changed if a.marked_for_collection and not b.marked_for_collection
    ]
    assert len(newly_marked) == first["marked"]
    for inv in newly_marked:
        assert inv.status == "open" and not inv.disputed and inv.due_date < day
        assert _normal(inv.marked_at).date() == day

    # a fresh copy with the same seed plays the same day to the same rows
    copy = _sqlite_engine(tmp_path / "copy.sqlite")
    create_demo_erp(copy, customers=CUSTOMERS, start_day=START)
    assert simulate_erp_day(copy, day) == first
    assert checksum(copy) == after_first
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(demo_erp_day)).scalar_one() == 1


def test_demo_tables_are_created_by_the_generator(tmp_path):
    engine = _sqlite_engine(tmp_path / "fresh.sqlite")
    create_demo_erp(engine, customers=40, start_day=START)
    names = set(sa.inspect(engine).get_table_names())
    assert set(erp_metadata.tables) | set(demo_metadata.tables) <= names
    with pytest.raises(ValueError, match="at least 16"):
        create_demo_erp(_sqlite_engine(tmp_path / "tiny.sqlite"), customers=5, start_day=START)


def test_deliberate_invoices_for_the_gates_before_sending(demo):
    engine, counts = demo
    with engine.connect() as conn:
        nok = {r.client_id for r in conn.execute(sa.select(erp_client)) if r.currency == "NOK"}
    marked = [
        i
        for i in _invoices(engine)
        if i.marked_for_collection and i.client_id in nok and i.original_amount == 123_400
    ]  # the shared ERP has had a day played on it already: status may have moved
    not_due = [i for i in marked if i.due_date > START and i.reminder_count == 0]
    barred = [i for i in marked if i.due_date.year == 2019]
    eur = [i for i in marked if i.currency == "EUR"]
    assert len(not_due) == len(barred) == len(eur) == 1
    assert (
        counts["gate_not_due"]
        == counts["gate_time_barred"]
        == counts["gate_currency_mismatch"]
        == 1
    )
    for i in not_due + barred + eur:
        assert not i.disputed and i.customer_id not in {o.customer_id for o in marked if o != i}


def test_reminder_service_client_is_marked_at_its_agreements_level(tmp_path):
    """Svea runs the reminders at level 1: its client's invoices are marked after one reminder
    and the ERP sends it no more; the other clients' wait for level 2."""
    copy = _sqlite_engine(tmp_path / "levels.sqlite")
    create_demo_erp(copy, customers=CUSTOMERS, start_day=START)
    with copy.begin() as conn:
        (svea,) = conn.execute(
            sa.select(ink_agreement.c.client_id).where(ink_agreement.c.reminder_level == 1)
        ).scalars()
        # every unmarked open invoice now has exactly one reminder
        conn.execute(
            sa.update(erp_invoice)
            .where(erp_invoice.c.marked_for_collection.is_(False), erp_invoice.c.status == "open")
            .values(reminder_count=1)
        )
    before = {i.invoice_id: i for i in _invoices(copy)}
    simulate_erp_day(copy, START)
    after = [i for i in _invoices(copy) if i.invoice_id in before]
    newly = [
        i
        for i in after
        if i.marked_for_collection and not before[i.invoice_id].marked_for_collection
    ]
    assert newly and {i.client_id for i in newly} == {svea}
    assert {i.reminder_count for i in newly} == {1}
    raised = [i for i in after if i.reminder_count > before[i.invoice_id].reminder_count]
    assert raised and svea not in {i.client_id for i in raised}
