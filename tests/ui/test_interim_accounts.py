"""The Payouts page gives an interim account's balance once, as the daily mail does: two
settlement agreements of a client on the same account are one row naming both, and the totals
are per currency, never NOK and SEK added together (SQLite and PostgreSQL, through the view's
route in the Airflow app)."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import insert
from test_view import _cells, airflow_app, token  # noqa: F401 (the module's Airflow app fixture)

from inkasso.db.schema import erp_client, erp_journal_line, ink_agreement
from inkasso.money.amounts import format_money
from inkasso.report.gather import gather_client_day

DAY = date(2026, 11, 4)
# client 1 (NOK): Lowell and Intrum share 1684, Creno books on 1686; client 4 (SEK): Lowell on 1684
AGREEMENTS = [
    ("lowell_no", 1, "lowell", "1684"),
    ("intrum_no", 1, "intrum", "1684"),
    ("creno_no", 1, "creno", "1686"),
    ("lowell_se", 4, "lowell", "1684"),
]
# (client, account, debit, credit): 1684 of client 1 holds 200.00 NOK of both its agreements
LINES = [
    (1, "1684", 30_000, 0),  # a closure of lowell_no booked
    (1, "1684", 15_000, 0),  # a closure of intrum_no booked
    (1, "1684", 0, 25_000),  # a payout arrived
    (1, "1686", 5_000, 0),
    (4, "1684", 70_000, 0),
]


def _world(engine) -> None:
    with engine.begin() as conn:
        for client_id, name, country, currency in ((1, "Fjord AS", "NO", "NOK"),
                                                   (4, "Göta Elnät AB", "SE", "SEK")):  # fmt: skip
            conn.execute(
                insert(erp_client).values(
                    client_id=client_id, name=name, org_no=f"99988877{client_id}",
                    country=country, currency=currency, min_collection_amount=0,
                    default_bank_account="12345678903",
                )
            )  # fmt: skip
        for agreement_id, client_id, agency, account in AGREEMENTS:
            conn.execute(
                insert(ink_agreement).values(
                    agreement_id=agreement_id, client_id=client_id, agency=agency,
                    country=agreement_id[-2:].upper(), customer_no_at_agency="42",
                    agency_bank_account="98765432109", mode="sftp",
                    booking_mode="settlement", interim_account=account,
                )
            )  # fmt: skip
        for n, (client_id, account, debit, credit) in enumerate(LINES):
            conn.execute(
                insert(erp_journal_line).values(
                    client_id=client_id, journal_date=DAY, account=account, debit=debit,
                    credit=credit, text="test", source_ref=f"test:{n}",
                )
            )  # fmt: skip


@pytest.fixture
def payouts_page(erp_engine, erp_url, airflow_app, monkeypatch):  # noqa: F811
    """The Payouts page rendered by the view against the world's database."""
    from fastapi.testclient import TestClient

    from inkasso.ui import app as ui_app

    _world(erp_engine)
    monkeypatch.setenv(
        "AIRFLOW_CONN_ERP_DB",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": erp_url}}),
    )
    ui_app._erp_url_cache.clear()
    with TestClient(airflow_app, base_url="http://testserver") as client:
        client.cookies.set("_token", token())
        got = client.get("/inkasso/payouts")
    ui_app._erp_url_cache.clear()
    assert got.status_code == 200, got.text[:500]
    return got.text


def test_a_shared_interim_account_is_one_row_with_its_balance_once(payouts_page, erp_engine):
    rows = _cells(payouts_page, "interim")
    accounts = [r for r in rows if len(r) == 7]
    nok, sek = (lambda ore, cur="NOK": format_money(ore, cur)), "SEK"
    assert [(r[0], r[1], r[2], r[5]) for r in accounts] == [
        ("1 Fjord AS", "1684",
         "intrum_no (intrum, settlement), lowell_no (lowell, settlement)", nok(20_000)),
        ("1 Fjord AS", "1686", "creno_no (creno, settlement)", nok(5_000)),
        ("4 Göta Elnät AB", "1684", "lowell_se (lowell, settlement)", format_money(70_000, sek)),
    ]  # fmt: skip
    assert accounts[0][6].startswith("shared by intrum_no, lowell_no")
    assert accounts[1][6] == accounts[2][6] == ""
    # the shared balance is on the page once: adding up the column counts it once
    interim = payouts_page.split('id="interim"', 1)[1].split("</table>", 1)[0]
    assert interim.count(nok(20_000)) == 1
    # totals per currency, each account once, never NOK and SEK together
    totals = [r for r in rows if len(r) == 4]
    assert [r[2] for r in totals] == [nok(25_000), format_money(70_000, sek)]
    assert "Total NOK (2 accounts)" in interim and "Total SEK (1 account)" in interim

    # the same as the client's daily mail, which gives the shared balance once too
    report = gather_client_day(erp_engine, 1, DAY)
    mail = {a.agreement_id: a.interim_balance for a in report.agencies}
    assert mail == {"creno_no": 5_000, "intrum_no": 20_000, "lowell_no": None}
