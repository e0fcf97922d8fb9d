"""prepare_new_cases on a hand-made ERP (SQLite and PostgreSQL): the gates and the agreement's fields
reach the file and ink_dispatch_hold, and one unwritable name holds only its own invoice."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert, update

from inkasso.db.schema import erp_client, erp_customer, erp_invoice, ink_agreement
from inkasso_demo.erp import ids
from tests.db_helpers import query_frame as rows

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
CUTOFF = NOW
DUE = DAY - timedelta(days=30)  # passes every default gate
CLIENTS = {
    "lowell_no": {"client_id": 1, "country": "NO", "currency": "NOK", "account": "12345678903"},
    "svea": {"client_id": 2, "country": "SE", "currency": "SEK", "account": "5050-1055"},
}


@pytest.fixture
def base(tmp_path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{tmp_path / 'files'}")


@pytest.fixture
def erp(erp_engine):
    """Two clients with one agreement each: Lowell NO (fixed width, ISO-8859-1) and Svea SE
    (delimited ';', UTF-8, reminder service at level 1). No customers yet."""
    with erp_engine.begin() as conn:
        for agreement_id, c in CLIENTS.items():
            conn.execute(
                insert(erp_client).values(
                    client_id=c["client_id"],
                    name=f"Client {agreement_id}",
                    org_no="923609016",
                    country=c["country"],
                    currency=c["currency"],
                    min_collection_amount=5_000,
                    default_bank_account=c["account"],
                    register_lookup=False,
                    report_recipients="x@example.com",
                )
            )
            conn.execute(
                insert(ink_agreement).values(
                    agreement_id=agreement_id,
                    client_id=c["client_id"],
                    agency=agreement_id.split("_")[0],
                    country=c["country"],
                    customer_no_at_agency="40012",
                    agency_bank_account="99998877665",
                    mode="sftp",
                    sftp_conn_id=f"inkasso_sftp_{agreement_id}",
                    reminder_service=agreement_id == "svea",
                    reminder_level=1 if agreement_id == "svea" else None,
                )
            )
    return erp_engine


_rng = random.Random(5)
_seq = iter(range(1, 10_000))


def customer(engine, agreement_id, name, **invoice_fields) -> int:
    """One person with a valid id and address and one marked invoice; returns the invoice id."""
    c = CLIENTS[agreement_id]
    n = next(_seq)
    no = c["country"] == "NO"
    with engine.begin() as conn:
        conn.execute(
            insert(erp_customer).values(
                customer_id=n,
                client_id=c["client_id"],
                customer_no=str(1000 + n),
                name=name,
                is_organisation=False,
                national_id=ids.no_fodselsnummer(_rng) if no else ids.se_personnummer(_rng),
                country=c["country"],
                postal_street="Storgata 1",
                postal_postcode="0155" if no else "114 55",
                postal_city="Oslo" if no else "Stockholm",
                postal_source="manual",
            )
        )
        values = {
            "invoice_id": n,
            "client_id": c["client_id"],
            "customer_id": n,
            "invoice_no": str(10_000_000 + n),
            "invoice_date": DUE - timedelta(days=14),
            "due_date": DUE,
            "currency": c["currency"],
            "original_amount": 12_345,
            "remaining_amount": 12_345,
            "kid": ids.payment_reference(f"{n:08d}"),
            "reminder_count": 2,
            "status": "open",
            "marked_for_collection": True,
            "marked_at": NOW - timedelta(days=1),
        } | invoice_fields
        conn.execute(insert(erp_invoice).values(**values))
    return n


def prepare(engine, agreement_id, base, day=DAY):
    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases

    (agreement,) = load_agreements(engine, agreement_id=agreement_id)
    return prepare_new_cases(engine, agreement, day, CUTOFF, base, now=NOW)


def holds(engine, agreement_id, day=DAY) -> dict[int, tuple[str, str]]:
    found = rows(
        engine,
        "SELECT invoice_id, reason, detail FROM ink_dispatch_hold "
        "WHERE agreement_id = :a AND business_date = :d",
        a=agreement_id,
        d=day,
    )
    return {int(r.invoice_id): (r.reason, r.detail) for r in found.itertuples()}


def read_file(agreement_id, result):
    from airflow.sdk import ObjectStoragePath

    from inkasso.formats import load_layout, load_profile

    profile = load_profile(CLIENTS_AGENCY[agreement_id])
    layout = load_layout(profile.files["new_cases"].layout)
    return layout.read(ObjectStoragePath(result["path"]).read_bytes(), result["file_name"])


CLIENTS_AGENCY = {"lowell_no": "lowell", "svea": "svea"}


# ------------------------------------------------------------------ unwritable values


@pytest.mark.parametrize(
    ("agreement_id", "bad_name", "detail"),
    [
        ("lowell_no", "Kari € Nordmann", "debtor_name: '€' not in ISO-8859-1"),
        ("svea", "Anna; Svensson", "debtor_name: ';' is the file's delimiter"),
        ("svea", "Anna\nSvensson", "debtor_name: control character '\\n'"),
    ],
    ids=["fixed-width-encoding", "delimited-separator", "delimited-line-break"],
)
def test_one_unwritable_name_holds_only_its_invoice_and_the_rest_is_sent(
    erp, base, agreement_id, bad_name, detail
):
    good = [customer(erp, agreement_id, name) for name in ("Ola Nordmann", "Åsa Öberg")]
    bad = customer(erp, agreement_id, bad_name)
    result = prepare(erp, agreement_id, base)
    assert result["status"] == "written" and result["cases"] == 2
    assert holds(erp, agreement_id) == {bad: ("unwritable_field", detail)}
    sent = rows(erp, "SELECT invoice_id FROM ink_case ORDER BY invoice_id")
    assert list(sent["invoice_id"]) == good
    parsed = read_file(agreement_id, result)
    assert sorted(parsed.details()["debtor_name"]) == ["Ola Nordmann", "Åsa Öberg"]
    still = rows(
        erp, "SELECT status, marked_for_collection FROM erp_invoice WHERE invoice_id = :i", i=bad
    )
    assert still["status"][0] == "open" and bool(still["marked_for_collection"][0])


def test_unwritable_invoice_goes_once_its_name_is_fixed(erp, base):
    customer(erp, "lowell_no", "Ola Nordmann")
    bad = customer(erp, "lowell_no", "Kari € Nordmann")
    assert prepare(erp, "lowell_no", base)["cases"] == 1
    with erp.begin() as conn:
        conn.execute(
            update(erp_customer)
            .where(erp_customer.c.customer_id == bad)
            .values(name="Kari E Nordmann")
        )
    nxt = prepare(erp, "lowell_no", base, DAY + timedelta(days=1))
    assert nxt["status"] == "written" and nxt["cases"] == 1
    assert holds(erp, "lowell_no", DAY + timedelta(days=1)) == {}


# ------------------------------------------------------------------ gates through the database


def test_gates_hold_with_their_reasons_in_ink_dispatch_hold(erp, base):
    ok = customer(erp, "lowell_no", "Ola Nordmann")
    not_due = customer(
        erp, "lowell_no", "Per Hansen", due_date=DAY + timedelta(days=5), reminder_count=0
    )
    barred = customer(
        erp, "lowell_no", "Gamle Olsen", due_date=date(2019, 5, 2), invoice_date=date(2019, 4, 18)
    )
    eur = customer(erp, "lowell_no", "Euro Berg", currency="EUR")
    no_varsel = customer(erp, "lowell_no", "Lise Dahl", reminder_count=0)
    early = customer(erp, "lowell_no", "Tor Lie", due_date=DAY - timedelta(days=13))
    result = prepare(erp, "lowell_no", base)
    assert result["cases"] == 1
    assert list(rows(erp, "SELECT invoice_id FROM ink_case")["invoice_id"]) == [ok]
    reasons = {k: v[0] for k, v in holds(erp, "lowell_no").items()}
    assert reasons == {
        not_due: "not_due",
        barred: "time_barred",
        eur: "currency_mismatch",
        no_varsel: "too_few_reminders",
        early: "not_due_long_enough",
    }
    # each hold keeps the invoice's amount and currency of the day, for the day's report
    kept = rows(erp, "SELECT invoice_id, amount, currency FROM ink_dispatch_hold")
    assert {int(r.invoice_id): (int(r.amount), r.currency) for r in kept.itertuples()} == {
        i: (12_345, "EUR" if i == eur else "NOK") for i in reasons
    }
    assert result["holds"] == {
        "currency_mismatch": 1,
        "not_due": 1,
        "not_due_long_enough": 1,
        "time_barred": 1,
        "too_few_reminders": 1,
    }


def test_agreement_gates_override_the_country_default(erp, base):
    customer(erp, "lowell_no", "Ola Nordmann")  # 30 days after its due date
    with erp.begin() as conn:
        conn.execute(
            update(ink_agreement)
            .where(ink_agreement.c.agreement_id == "lowell_no")
            .values(gates='{"min_days_after_due": 31}')
        )
    assert prepare(erp, "lowell_no", base)["status"] == "nothing_to_send"
    ((reason, detail),) = holds(erp, "lowell_no").values()
    assert reason == "not_due_long_enough" and "(31 days after the due date)" in detail
    assert prepare(erp, "lowell_no", base, DAY + timedelta(days=1))["cases"] == 1


def test_reminder_service_sends_at_the_agreements_level_soon_after_due(erp, base):
    # Svea runs the reminders at level 1: one reminder and two days overdue is enough
    at_level = customer(
        erp, "svea", "Anna Svensson", reminder_count=1, due_date=DAY - timedelta(days=2)
    )
    below = customer(erp, "svea", "Erik Berg", reminder_count=0, due_date=DAY - timedelta(days=2))
    result = prepare(erp, "svea", base)
    assert result["cases"] == 1
    assert list(rows(erp, "SELECT invoice_id FROM ink_case")["invoice_id"]) == [at_level]
    assert holds(erp, "svea")[below][0] == "too_few_reminders"
    details = read_file("svea", result).details()
    assert list(details["reminder_count"].astype(int)) == [1]  # Svea's profile carries the count


# ------------------------------------------------------------------ the agreement's fields


def test_payback_account_in_the_header_falls_back_to_the_clients_default(erp, base):
    customer(erp, "lowell_no", "Ola Nordmann")
    first = prepare(erp, "lowell_no", base)
    assert read_file("lowell_no", first).header["payback_account"] == "12345678903"

    with erp.begin() as conn:
        conn.execute(
            update(ink_agreement)
            .where(ink_agreement.c.agreement_id == "lowell_no")
            .values(payback_account="15032080119")
        )
    customer(erp, "lowell_no", "Kari Nordmann")
    second = prepare(erp, "lowell_no", base, DAY + timedelta(days=1))
    assert read_file("lowell_no", second).header["payback_account"] == "15032080119"


def test_profile_says_whether_the_file_carries_the_reminder_count():
    from inkasso.formats import LayoutError, load_layout, load_profile
    from inkasso.formats.profile import check_profile_layouts, profile_from_dict

    intrum, svea = load_profile("intrum"), load_profile("svea")
    assert not intrum.carries_reminder_count and svea.carries_reminder_count
    assert "reminder_count" not in load_layout("intrum.new_cases").fields("detail")
    assert "reminder_count" in load_layout("svea.new_cases").fields("detail")

    import yaml

    from inkasso.formats.profile import agencies_dir

    raw = yaml.safe_load((agencies_dir() / "intrum.yaml").read_text(encoding="utf-8"))
    with pytest.raises(LayoutError, match="carries_reminder_count is true but the detail has no"):
        check_profile_layouts(profile_from_dict(raw | {"carries_reminder_count": True}))


def test_marks_count_strictly_before_the_cutoff_to_the_microsecond(erp, base):
    """A manual run's cutoff is any moment: an invoice marked one microsecond before it is sent,
    one marked at that very moment waits for the next run (SQLite compares the stored text:
    the cutoff is bound as the column's own type, not the driver's ``+00:00`` form)."""
    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases

    cutoff = NOW - timedelta(hours=1, microseconds=-250_000)  # 03:00:00.250000
    before = customer(
        erp, "lowell_no", "Ola Nordmann", marked_at=cutoff - timedelta(microseconds=1)
    )
    at = customer(erp, "lowell_no", "Kari Nordmann", marked_at=cutoff)
    (agreement,) = load_agreements(erp, agreement_id="lowell_no")
    result = prepare_new_cases(erp, agreement, DAY, cutoff, base, now=NOW)
    assert result["status"] == "written" and result["cases"] == 1
    sent = rows(erp, "SELECT invoice_id FROM ink_case")
    assert list(sent["invoice_id"]) == [before]
    assert at not in holds(erp, "lowell_no")  # not held either: not yet due for this run
