"""The Inkasso view inside a real Airflow API server app (in-process): who may see it, and that
its pages show the database's figures with national ids masked."""

from __future__ import annotations

import re
import time

import pytest
from sqlalchemy import func, select
from ui_dataset import NATIONAL_ID_IN_FILE


@pytest.fixture(scope="module")
def airflow_app(airflow_db):
    """Airflow's own API server app with the plugins of the project (the view under /inkasso)."""
    import os

    # a fixed signing secret: every token of the test session is checked against the same one
    os.environ.setdefault(
        "AIRFLOW__API_AUTH__JWT_SECRET", "inkasso-view-tests-" + "0123456789abcdef" * 4
    )
    from airflow.api_fastapi.app import create_app

    return create_app()


@pytest.fixture
def client(airflow_app):
    from fastapi.testclient import TestClient

    with TestClient(airflow_app, base_url="http://testserver") as c:
        yield c


def token(role: str = "admin", username: str = "admin", seconds: int = 3600) -> str:
    """A JWT Airflow itself issues for a simple-auth-manager user."""
    from airflow.api_fastapi.app import get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    return get_auth_manager().generate_jwt(
        SimpleAuthManagerUser(username=username, role=role), expiration_time_in_seconds=seconds
    )


def forged_token() -> str:
    """A token signed with another secret, claiming to be an admin."""
    from airflow.api_fastapi.auth.tokens import JWTGenerator

    real = token()
    import jwt

    claims = jwt.decode(real, options={"verify_signature": False})
    return JWTGenerator(
        secret_key="not-airflows-secret", valid_for=3600, audience=claims["aud"]
    ).generate({"sub": "admin", "role": "admin"})


PAGES = [
    "/inkasso/cases",
    "/inkasso/files",
    "/inkasso/holds",
    "/inkasso/payouts",
    "/inkasso/after-closure",
    "/inkasso/actions",
]


def test_anonymous_forged_and_expired_requests_are_refused(ui_data, client):
    case_page = f"/inkasso/cases/{ui_data['case_id']}"
    download = f"/inkasso/files/{ui_data['receipt_file_id']}/download"
    for path in [*PAGES, case_page, download]:
        anonymous = client.get(path)
        assert anonymous.status_code == 401, path
        assert "AG-777001" not in anonymous.text
    expired = token(seconds=-3600)
    time.sleep(0.01)
    for credentials in (
        {"cookies": {"_token": forged_token()}},
        {"headers": {"Authorization": f"Bearer {forged_token()}"}},
        {"headers": {"Authorization": "Bearer not.a.jwt"}},
    ):
        refused = client.get(case_page, **credentials)
        assert refused.status_code == 403
        assert "AG-777001" not in refused.text
    client.cookies.clear()
    late = client.get(case_page, headers={"Authorization": f"Bearer {expired}"})
    assert late.status_code == 401 and "expired" in late.text
    # a tampered payload with the real signature is refused too
    head, _payload, signature = token().split(".")
    import base64
    import json

    evil = (
        base64.urlsafe_b64encode(
            json.dumps({"sub": "admin", "role": "admin", "exp": 9999999999}).encode()
        )
        .decode()
        .rstrip("=")
    )
    assert (
        client.get(
            case_page, headers={"Authorization": f"Bearer {head}.{evil}.{signature}"}
        ).status_code
        == 403
    )
    # writes without a token: refused before anything is triggered or recorded
    post = client.post(
        "/inkasso/actions",
        data={"action": "corrections_now", "agreement_id": ui_data["agreement_id"]},
    )
    assert post.status_code == 401


def test_a_logged_in_user_gets_every_page(ui_data, client):
    client.cookies.set("_token", token(role="viewer", username="vera"))
    for path in PAGES:
        page = client.get(path)
        assert page.status_code == 200, (path, page.text[:500])
        assert "vera" in page.text
    case = client.get(f"/inkasso/cases/{ui_data['case_id']}")
    assert case.status_code == 200 and "AG-777001" in case.text


def test_a_viewer_may_not_trigger_or_mark_files(ui_data, client):
    from inkasso.db.schema import ink_file_log, ink_ui_action

    client.cookies.set("_token", token(role="viewer", username="vera"))
    post = client.post(
        "/inkasso/actions",
        data={"action": "corrections_now", "agreement_id": ui_data["agreement_id"]},
        follow_redirects=False,
    )
    assert post.status_code == 403
    handled = client.post(
        f"/inkasso/files/{ui_data['quarantined_file_id']}/handled",
        data={"state": "dismissed", "note": "test"},
        follow_redirects=False,
    )
    assert handled.status_code == 403
    with ui_data["engine"].connect() as conn:
        by_vera = select(func.count()).where(ink_ui_action.c.username == "vera")
        assert conn.execute(by_vera).scalar_one() == 0
        state = conn.execute(
            select(ink_file_log.c.handled_state).where(
                ink_file_log.c.file_id == ui_data["quarantined_file_id"]
            )
        ).scalar_one()
    assert state in (None, "resent")  # the module's data; only test_files_... marks it


def test_a_cross_site_post_is_refused(ui_data, client):
    client.cookies.set("_token", token())
    post = client.post(
        f"/inkasso/files/{ui_data['quarantined_file_id']}/handled",
        data={"state": "resent"},
        headers={"Origin": "https://evil.example"},
        follow_redirects=False,
    )
    assert post.status_code == 403


def _cells(html: str, table_id: str) -> list[list[str]]:
    body = html.split(f'id="{table_id}"', 1)[1].split("</table>", 1)[0]
    return [
        [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
        if "<td" in row
    ]


def test_cases_filter_and_show_the_databases_figures(ui_data, client):
    from inkasso.db.schema import ink_case

    client.cookies.set("_token", token())
    with ui_data["engine"].connect() as conn:
        per_agreement = dict(
            conn.execute(
                select(ink_case.c.agreement_id, func.count()).group_by(ink_case.c.agreement_id)
            ).all()
        )
    listed = client.get("/inkasso/cases")
    assert f"{ui_data['cases']} cases" in listed.text
    for agreement_id, n in per_agreement.items():
        page = client.get("/inkasso/cases", params={"agreement_id": agreement_id})
        assert f">{n} cases" in page.text.replace('"muted">', ">")
        assert all(row[2] == agreement_id for row in _cells(page.text, "cases"))
    by_ref = _cells(client.get("/inkasso/cases", params={"agency_ref": "AG-777001"}).text, "cases")
    assert len(by_ref) == 1 and by_ref[0][0] == str(ui_data["case_id"])
    row = by_ref[0]
    assert row[5] == "registered"
    # sent 1 000,00 minus a direct payment of 100,00 reported: the open column says so
    with ui_data["engine"].connect() as conn:
        sent = conn.execute(
            select(ink_case.c.sent_amount).where(ink_case.c.case_id == ui_data["case_id"])
        ).scalar_one()
    from inkasso.money.amounts import format_money as format_amount

    assert row[7] == format_amount(sent, ui_data["currency"])
    assert row[9] == format_amount(10000)
    assert row[11] == format_amount(sent - 10000)
    assert client.get("/inkasso/cases", params={"status": "paid"}).text.count("data-case-id") == 0
    late = _cells(client.get("/inkasso/cases", params={"late_receipt": "1"}).text, "cases")
    assert late and all("late" in r[13] for r in late)  # the demo day is weeks ago


def test_case_page_timeline_money_and_masking(ui_data, client):
    from inkasso.db.schema import erp_customer, ink_case, ink_case_event

    client.cookies.set("_token", token())
    page = client.get(f"/inkasso/cases/{ui_data['case_id']}").text
    with ui_data["engine"].connect() as conn:
        events = conn.execute(
            select(ink_case_event.c.event_id, ink_case_event.c.kind, ink_case_event.c.file_id)
            .where(ink_case_event.c.case_id == ui_data["case_id"])
            .order_by(ink_case_event.c.at, ink_case_event.c.event_id)
        ).all()
        national_id = conn.execute(
            select(erp_customer.c.national_id)
            .select_from(
                ink_case.join(erp_customer, erp_customer.c.customer_id == ink_case.c.customer_id)
            )
            .where(ink_case.c.case_id == ui_data["case_id"])
        ).scalar_one()
    shown = re.findall(r'data-event-id="(\d+)"', page)
    assert shown == [str(e.event_id) for e in events]
    assert [k for k in ("opened", "receipt", "correction")] == [e.kind for e in events]
    for e in events:
        assert f'/inkasso/files/{e.file_id}"' in page
    assert national_id not in page and national_id[:6] + "*" * (len(national_id) - 6) in page


def test_files_download_issues_and_handling(ui_data, client):
    from inkasso.db.schema import ink_file_log, ink_ui_action

    client.cookies.set("_token", token(username="anna"))
    files = client.get("/inkasso/files").text
    with ui_data["engine"].connect() as conn:
        logged = conn.execute(select(ink_file_log)).mappings().all()
    assert f"{len(logged)} files" in files
    for f in logged:
        assert f'data-file-id="{f["file_id"]}"' in files
    outgoing = client.get("/inkasso/files", params={"direction": "out"}).text
    assert f"{sum(f['direction'] == 'out' for f in logged)} files" in outgoing
    for f in logged:
        got = client.get(f"/inkasso/files/{f['file_id']}/download")
        assert got.status_code == 200
        import hashlib

        assert hashlib.sha256(got.content).hexdigest() == f["sha256"]
    bad = client.get(f"/inkasso/files/{ui_data['quarantined_file_id']}").text
    issues = _cells(bad, "issues")
    assert issues[0][0] == "2" and issues[0][1] == "case_id" and "D999999" in issues[0][3]
    assert NATIONAL_ID_IN_FILE not in bad and "010170*****" in bad
    # a dismissal needs a note; a resend is recorded with who and when, the file stays logged
    assert (
        client.post(
            f"/inkasso/files/{ui_data['quarantined_file_id']}/handled", data={"state": "dismissed"}
        ).status_code
        == 400
    )
    done = client.post(
        f"/inkasso/files/{ui_data['quarantined_file_id']}/handled",
        data={"state": "resent", "note": "agency sent Kvitt_1_20261104 instead"},
    )
    assert done.status_code == 200 and "Marked <strong>resent</strong> by anna" in done.text
    receipt = client.post(
        f"/inkasso/files/{ui_data['receipt_file_id']}/handled",
        data={"state": "resent", "note": "x"},
    )
    assert "only a quarantined file" in receipt.text
    with ui_data["engine"].connect() as conn:
        row = (
            conn.execute(
                select(ink_file_log).where(ink_file_log.c.file_id == ui_data["quarantined_file_id"])
            )
            .mappings()
            .one()
        )
        action = (
            conn.execute(select(ink_ui_action).where(ink_ui_action.c.username == "anna"))
            .mappings()
            .one()
        )
    assert (row["status"], row["handled_state"], row["handled_by"]) == (
        "quarantined",
        "resent",
        "anna",
    )
    assert (action["action"], action["username"], action["file_id"]) == (
        "file_resent",
        "anna",
        ui_data["quarantined_file_id"],
    )


def test_holds_payouts_and_after_closure_match_the_database(ui_data, client):
    from inkasso.db.schema import erp_invoice, ink_dispatch_hold
    from inkasso.money.amounts import format_money as format_amount

    client.cookies.set("_token", token())
    with ui_data["engine"].connect() as conn:
        groups = conn.execute(
            select(
                ink_dispatch_hold.c.agreement_id,
                ink_dispatch_hold.c.reason,
                func.count(),
                func.sum(erp_invoice.c.remaining_amount),
            )
            .join(erp_invoice, erp_invoice.c.invoice_id == ink_dispatch_hold.c.invoice_id)
            .group_by(ink_dispatch_hold.c.agreement_id, ink_dispatch_hold.c.reason)
        ).all()
    assert groups, "the demo day holds invoices back"
    shown = {
        (r[1], r[3]): (r[4], r[5])
        for r in _cells(client.get("/inkasso/holds").text, "hold-summary")
    }
    for agreement_id, reason, n, amount in groups:
        count, money = shown[(agreement_id, reason)]
        assert count == str(n) and money.startswith(format_amount(amount))
    payouts = client.get("/inkasso/payouts").text
    agreement = f"{ui_data['agreement_id']} ("  # its account's row names it among its agreements
    (interim,) = [r for r in _cells(payouts, "interim") if len(r) == 7 and agreement in r[2]]
    assert interim[5] == format_amount(ui_data["interim_balance"], ui_data["currency"])
    assert _cells(payouts, "payouts")[0][3] == "matched"
    after = _cells(client.get("/inkasso/after-closure").text, "after-closure")
    assert after[0][1] == str(ui_data["after_closure_case_id"]) and after[0][7] == "overpayment"


def test_a_rerun_is_recorded_even_when_airflow_cannot_be_reached(ui_data, client, monkeypatch):
    from browser import free_port

    from inkasso.db.schema import ink_ui_action

    monkeypatch.setenv("INKASSO_UI_API_URL", f"http://127.0.0.1:{free_port()}")
    client.cookies.set("_token", token(username="olav"))
    unknown = client.post(
        "/inkasso/actions",
        data={"action": "rerun_day", "agreement_id": "nope", "dag_id": "inkasso_dispatch"},
    )
    assert unknown.status_code == 400
    page = client.post(
        "/inkasso/actions",
        data={
            "action": "rerun_day",
            "agreement_id": ui_data["agreement_id"],
            "dag_id": "inkasso_dispatch",
            "business_date": "2026-11-05",
        },
    )
    assert page.status_code == 200 and "could not be reached" in page.text
    with ui_data["engine"].connect() as conn:
        action = (
            conn.execute(select(ink_ui_action).where(ink_ui_action.c.username == "olav"))
            .mappings()
            .one()
        )
    assert (action["action"], action["outcome"], action["dag_id"], action["dag_run_id"]) == (
        "rerun_day",
        "failed",
        "inkasso_dispatch",
        None,
    )
    assert str(action["business_date"]) == "2026-11-05"


def test_a_rerun_gets_the_logical_date_of_that_days_scheduled_run():
    from datetime import UTC, date, datetime

    from inkasso.ui.actions import rerun_logical_date

    # 05:00 in Oslo: CET in November, CEST in June
    assert rerun_logical_date("inkasso_dispatch", date(2026, 11, 5)) == datetime(
        2026, 11, 5, 4, 0, tzinfo=UTC
    )
    assert rerun_logical_date("inkasso_inbound", date(2026, 6, 1)) == datetime(
        2026, 6, 1, 4, 0, tzinfo=UTC
    )
