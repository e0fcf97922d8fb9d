"""The Inkasso view at its edges: ids that cannot exist, repeated clicks."""

from __future__ import annotations

from sqlalchemy import func, select
from test_view import airflow_app, token  # noqa: F401 (the module's Airflow app fixture)


def _client(airflow_app):  # noqa: F811
    from fastapi.testclient import TestClient

    return TestClient(airflow_app, base_url="http://testserver", raise_server_exceptions=False)


def test_ids_and_pages_beyond_the_database_are_a_clear_answer(ui_data, airflow_app):  # noqa: F811
    huge = "9" * 25  # a number, but no database integer
    with _client(airflow_app) as client:
        client.cookies.set("_token", token())
        for path in (f"/inkasso/cases/{huge}", f"/inkasso/files/{huge}"):
            got = client.get(path)
            assert got.status_code == 404, (path, got.status_code, got.text[:300])
            assert "Traceback" not in got.text
        marked = client.post(f"/inkasso/files/{huge}/handled", data={"state": "resent"})
        assert marked.status_code == 404
        for path, params in (
            ("/inkasso/cases", {"page": huge}),
            ("/inkasso/cases", {"client_id": huge}),
            ("/inkasso/files", {"page": huge}),
            ("/inkasso/files", {"client_id": huge}),
            ("/inkasso/holds", {"client_id": huge}),
            ("/inkasso/payouts", {"page": huge}),
            ("/inkasso/after-closure", {"page": huge}),
        ):
            got = client.get(path, params=params)
            assert got.status_code == 200, (path, params, got.status_code, got.text[:300])


def test_marking_a_file_handled_twice_records_it_once(ui_data, airflow_app):  # noqa: F811
    """A double click on "Record" (the same form sent twice) is one decision: one audit row,
    the first time kept; another decision later is recorded as such."""
    from inkasso.db.schema import ink_file_log, ink_ui_action

    file_id = ui_data["quarantined_file_id"]
    form = {"state": "resent", "note": ""}
    with _client(airflow_app) as client:
        client.cookies.set("_token", token(username="dora"))
        first = client.post(f"/inkasso/files/{file_id}/handled", data=form)
        with ui_data["engine"].connect() as conn:
            at = conn.execute(
                select(ink_file_log.c.handled_at).where(ink_file_log.c.file_id == file_id)
            ).scalar_one()
        again = client.post(f"/inkasso/files/{file_id}/handled", data=form)
        assert first.status_code == again.status_code == 200
        assert "Marked <strong>resent</strong> by dora" in again.text
        assert "only a quarantined file" not in again.text
        with ui_data["engine"].connect() as conn:
            rows = conn.execute(
                select(func.count()).where(
                    ink_ui_action.c.username == "dora", ink_ui_action.c.file_id == file_id
                )
            ).scalar_one()
            at_after = conn.execute(
                select(ink_file_log.c.handled_at).where(ink_file_log.c.file_id == file_id)
            ).scalar_one()
        assert rows == 1 and at_after == at
        # a different decision is a new record
        client.post(
            f"/inkasso/files/{file_id}/handled",
            data={"state": "dismissed", "note": "duplicate of yesterday's receipt"},
        )
        with ui_data["engine"].connect() as conn:
            actions = (
                conn.execute(
                    select(ink_ui_action.c.action)
                    .where(ink_ui_action.c.file_id == file_id)
                    .order_by(ink_ui_action.c.action_id)
                )
                .scalars()
                .all()
            )
        assert actions == ["file_resent", "file_dismissed"]


def test_held_back_now_is_the_latest_dispatch_not_an_older_days_holds(ui_data, airflow_app):  # noqa: F811
    """An agreement's next dispatch sent its cases and held nothing back: "held back" without
    a day (what is waiting now) no longer lists the older day's holds; that day still shows
    them when asked for."""
    from datetime import timedelta

    from sqlalchemy import insert

    from inkasso.db.schema import ink_dispatch_hold, ink_file_log

    with ui_data["engine"].begin() as conn:
        agreement_id, day = conn.execute(
            select(ink_dispatch_hold.c.agreement_id, ink_dispatch_hold.c.business_date).limit(1)
        ).one()
        sent = (
            conn.execute(
                select(ink_file_log).where(
                    ink_file_log.c.agreement_id == agreement_id, ink_file_log.c.kind == "new_cases"
                )
            )
            .mappings()
            .first()
        )
        later = dict(sent) | {"business_date": day + timedelta(days=1)}
        later["file_name"] = "next-day-" + sent["file_name"]
        later.pop("file_id")
        conn.execute(insert(ink_file_log).values(**later))
    with _client(airflow_app) as client:
        client.cookies.set("_token", token())
        now = client.get("/inkasso/holds").text
        assert f"<td>{agreement_id}</td>" not in now.split('id="hold-summary"')[1]
        that_day = client.get("/inkasso/holds", params={"business_date": day.isoformat()}).text
        assert f"<td>{agreement_id}</td>" in that_day.split('id="hold-summary"')[1]


def test_a_case_whose_erp_invoice_is_gone_still_shows(ui_data, airflow_app):  # noqa: F811
    """The ERP owns its invoices (no foreign key from ink_case): one deleted there must not
    take the case list or the case's page down; what is known of the case is still shown."""
    from sqlalchemy import delete

    from inkasso.db.schema import erp_invoice, ink_case
    from inkasso.money.amounts import format_money

    with ui_data["engine"].begin() as conn:
        case = (
            conn.execute(
                select(ink_case).where(ink_case.c.case_id == ui_data["after_closure_case_id"])
            )
            .mappings()
            .one()
        )
        conn.execute(delete(erp_invoice).where(erp_invoice.c.invoice_id == case["invoice_id"]))
    with _client(airflow_app) as client:
        client.cookies.set("_token", token())
        listed = client.get("/inkasso/cases", params={"agreement_id": case["agreement_id"]})
        assert listed.status_code == 200, listed.text[:300]
        assert f'data-case-id="{case["case_id"]}"' in listed.text
        page = client.get(f"/inkasso/cases/{case['case_id']}")
        assert page.status_code == 200, page.text[:300]
        assert format_money(case["sent_amount"]) in page.text


def test_error_pages_are_pages_and_mask_national_ids(ui_data, airflow_app):  # noqa: F811
    """A person who pastes a fødselsnummer or a personnummer where a case number goes gets the
    view's own 404 page, with the id masked like everywhere else; a word there is a 404 too."""
    fnr, pnr = "31017012345", "198501011234"
    with _client(airflow_app) as client:
        client.cookies.set("_token", token())
        for national_id in (fnr, pnr):
            for path in (f"/inkasso/cases/{national_id}", f"/inkasso/files/{national_id}"):
                got = client.get(path)
                assert got.status_code == 404
                assert national_id not in got.text and national_id[:6] + "*" in got.text
        for path in ("/inkasso/cases/abc", "/inkasso/files/1e3", "/inkasso/files/x/download"):
            got = client.get(path)
            assert got.status_code == 404 and "Inkasso view: 404" in got.text, got.text[:300]
        refused = client.post(
            "/inkasso/actions", data={"action": "read_outbox", "agreement_id": fnr}
        )
        assert refused.status_code == 400 and fnr not in refused.text
        missing = client.post("/inkasso/actions", data={"action": "read_outbox"})
        assert missing.status_code == 400 and "Inkasso view: 400" in missing.text


def test_a_page_past_the_last_says_so_and_links_back(ui_data, airflow_app):  # noqa: F811
    """Page 99 of a short list is not "no case matches": the filters match, the page is past
    the end, and a link leads to the first page."""
    with _client(airflow_app) as client:
        client.cookies.set("_token", token())
        for path, empty in (
            ("/inkasso/cases", "No case matches"),
            ("/inkasso/files", "No file matches"),
            ("/inkasso/payouts", "No payouts"),
            ("/inkasso/after-closure", "Nothing after closure"),
        ):
            far = client.get(path, params={"page": "99"}).text
            assert empty not in far, path
            assert "past the last page" in far and 'page=1"' in far, path
        none = client.get("/inkasso/cases", params={"status": "recalled", "page": "3"}).text
        assert "No case matches" in none


def test_a_fixed_width_files_preview_masks_the_id_field_whatever_follows(ui_data, airflow_app):  # noqa: F811
    """A 12-digit personnummer fills its fixed-width field; a street starting with digits right
    after it makes one long number the free-text masking leaves alone. The preview masks the
    layout's national_id field itself."""
    import hashlib
    from datetime import UTC, date, datetime

    from sqlalchemy import insert

    from inkasso.db.schema import ink_agreement, ink_file_log
    from inkasso.formats.profile import load_profile

    pnr = "198501011234"
    with ui_data["engine"].begin() as conn:
        agreements = conn.execute(select(ink_agreement)).mappings().all()
        agreement = next(
            a
            for a in agreements
            if load_profile(a["agency"]).file("new_cases").load_layout().kind == "fixed"
        )
        layout = load_profile(agreement["agency"]).file("new_cases").load_layout()
        detail = {
            "case_id": 1, "invoice_no": "F1", "debtor_no": "D1", "debtor_name": "Anna Åberg",
            "debtor_type": "P", "national_id": pnr, "street": "12 Storgatan",
            "postcode": "41303", "city": "Göteborg", "country": "SE",
            "invoice_date": date(2026, 9, 1), "due_date": date(2026, 10, 1),
            "original_amount": 100, "remaining_amount": 100, "currency": "SEK", "kid": "123",
        }  # fmt: skip
        detail |= {f.name: 0 for f in layout.records["detail"].fields if f.name not in detail}
        header = {
            "customer_no": "123", "client_name": "X AB", "client_org_no": "5560000000",
            "file_date": date(2026, 11, 2), "currency": "SEK",
        }  # fmt: skip
        data = layout.write(header, [detail])
        assert pnr.encode() in data
        path = ui_data["base"] / "fixed-width-preview.txt"
        path.write_bytes(data)
        file_id = conn.execute(
            insert(ink_file_log)
            .values(
                client_id=agreement["client_id"], agreement_id=agreement["agreement_id"],
                direction="out", kind="new_cases", file_name="fixed-width-preview.txt",
                business_date=date(2026, 10, 1), status="delivered", path=f"file://{path}",
                sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), record_count=1,
                amount_total=100, created_at=datetime(2026, 10, 1, 4, tzinfo=UTC),
            )
            .returning(ink_file_log.c.file_id)
        ).scalar_one()  # fmt: skip
    with _client(airflow_app) as client:
        client.cookies.set("_token", token())
        page = client.get(f"/inkasso/files/{file_id}").text
    assert "the archived bytes match" in page
    assert "Storgatan" in page and pnr not in page and "198501******" in page


def test_the_same_action_sent_twice_triggers_once(ui_data, airflow_app, monkeypatch):  # noqa: F811
    """A double click on "Generate the correction file now": the second request finds the
    first one's run (recorded seconds ago) and neither triggers nor records another."""
    from datetime import UTC, datetime

    from browser import free_port

    from inkasso.db.schema import ink_ui_action
    from inkasso.ui.actions import record_action

    monkeypatch.setenv("INKASSO_UI_API_URL", f"http://127.0.0.1:{free_port()}")
    record_action(
        ui_data["engine"], username="pia", action="corrections_now", outcome="triggered",
        agreement_id=ui_data["agreement_id"], dag_id="inkasso_corrections",
        dag_run_id="manual__first-click", now=datetime.now(UTC),
    )  # fmt: skip
    with _client(airflow_app) as client:
        client.cookies.set("_token", token(username="pia"))
        again = client.post(
            "/inkasso/actions",
            data={"action": "corrections_now", "agreement_id": ui_data["agreement_id"]},
        )
        assert again.status_code == 200 and "manual__first-click" in again.text
        with ui_data["engine"].connect() as conn:
            rows = conn.execute(
                select(func.count()).where(ink_ui_action.c.username == "pia")
            ).scalar_one()
        assert rows == 1
        # another user's click, or another action, is no double click
        client.cookies.set("_token", token(username="per"))
        other = client.post(
            "/inkasso/actions",
            data={"action": "corrections_now", "agreement_id": ui_data["agreement_id"]},
        )
        assert "could not be reached" in other.text


def test_filter_values_with_quotes_sql_and_html_match_nothing_and_come_back_escaped(
    ui_data,
    airflow_app,  # noqa: F811
):
    evil = "' OR 1=1 --\"><script>alert(1)</script>%_"
    with _client(airflow_app) as client:
        client.cookies.set("_token", token())
        for path, field in (
            ("/inkasso/cases", "invoice_no"),
            ("/inkasso/cases", "customer_no"),
            ("/inkasso/cases", "agency_ref"),
            ("/inkasso/cases", "agreement_id"),
            ("/inkasso/files", "name"),
            ("/inkasso/holds", "reason"),
            ("/inkasso/payouts", "agreement_id"),
        ):
            got = client.get(path, params={field: evil})
            assert got.status_code == 200, (path, field)
            assert "<script>alert(1)" not in got.text, (path, field)
            assert 'data-case-id="' not in got.text and 'data-file-id="' not in got.text


def test_held_back_shows_what_each_invoice_was_held_with(ui_data, airflow_app):  # noqa: F811
    """A day's held back invoices show the amount each had when it was held (as that day's
    mail does), not what is left on it now; a hold recorded without its amount (before 0013)
    shows the invoice's amount now, labelled "as of now"."""
    from sqlalchemy import update
    from test_view import _cells

    from inkasso.db.schema import erp_invoice, ink_dispatch_hold
    from inkasso.money.amounts import format_money

    h, i = ink_dispatch_hold.c, erp_invoice.c
    with ui_data["engine"].connect() as conn:
        day, reason = conn.execute(select(h.business_date, h.reason).limit(1)).one()
        hold = (  # the first row of that day's and reason's page
            conn.execute(
                select(ink_dispatch_hold, i.invoice_no, i.remaining_amount)
                .join(erp_invoice, i.invoice_id == h.invoice_id)
                .where(h.business_date == day, h.reason == reason)
                .order_by(h.agreement_id, h.invoice_id)
                .limit(1)
            )
            .mappings()
            .one()
        )
        group_held = conn.execute(
            select(func.sum(h.amount), func.count(), func.count(h.amount)).where(
                h.agreement_id == hold["agreement_id"],
                h.business_date == day,
                h.reason == reason,
                h.currency == hold["currency"],
            )
        ).one()
    assert group_held[1] == group_held[2], "the dataset's holds are recorded with amounts"
    key = (h.agreement_id == hold["agreement_id"]) & (h.business_date == day)
    key &= h.invoice_id == hold["invoice_id"]
    paid_since = 12_345  # the debtor paid part of it after the day: held with more than now

    def shown(client):
        page = client.get("/inkasso/holds", params={"business_date": day, "reason": reason})
        row = [
            r[5]
            for r in _cells(page.text, "holds")
            if (r[0], r[2]) == (hold["agreement_id"], hold["invoice_no"])
        ]
        group = [
            r[5]
            for r in _cells(page.text, "hold-summary")
            if (r[1], r[3]) == (hold["agreement_id"], reason) and hold["currency"] in r[5]
        ]
        return row, group

    try:
        with ui_data["engine"].begin() as conn:
            conn.execute(update(ink_dispatch_hold).where(key).values(amount=h.amount + paid_since))
        with _client(airflow_app) as client:
            client.cookies.set("_token", token())
            assert shown(client) == (
                [format_money(hold["amount"] + paid_since, hold["currency"])],
                [format_money(int(group_held[0]) + paid_since, hold["currency"])],
            )
            with ui_data["engine"].begin() as conn:  # as a dispatch before 0013 left it
                conn.execute(update(ink_dispatch_hold).where(key).values(amount=None))
            row, group = shown(client)
            now = format_money(hold["remaining_amount"], hold["currency"])
            assert row == [f"{now} as of now"] and group[0].endswith("as of now")
    finally:
        with ui_data["engine"].begin() as conn:
            conn.execute(update(ink_dispatch_hold).where(key).values(amount=hold["amount"]))
