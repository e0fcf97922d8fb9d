"""The Inkasso view in a real browser: headless Chromium (Playwright) against a real
``airflow api-server`` on the demo-like data. Screenshots of each page go to the test's tmp_path."""

from __future__ import annotations

import hashlib
import json
import re

import httpx
import pytest
from sqlalchemy import func, select

pytestmark = pytest.mark.e2e

PASSWORD = "inkasso-browser-test"


@pytest.fixture
def browser_world(airflow_db, tmp_path):
    """SQLite ERP with the demo-like data, serialized DAGs and a running API server."""
    from browser import ApiServer, airflow_cli_background, ensure_chromium
    from ui_dataset import build_dataset

    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso.db.schema import erp_metadata

    ensure_chromium()
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    base = tmp_path / "files"
    passwords = tmp_path / "passwords.json"
    passwords.write_text(json.dumps({"admin": PASSWORD}))
    env = {
        "AIRFLOW_CONN_ERP_DB": json.dumps(
            {"conn_type": "generic", "extra": {"sqlalchemy_url": url}}
        ),
        "INKASSO_BASE": str(base),
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": str(passwords),
        "AIRFLOW__API_AUTH__JWT_SECRET": "inkasso-browser-" + "0123456789abcdef" * 4,
        "AIRFLOW__API__EXPOSE_CONFIG": "False",
    }
    # the API triggers only DAGs it knows: serialize them, and start the server, while the
    # data is made (the server reads the ERP only when a page is asked for)
    reserialize = airflow_cli_background(env, tmp_path / "reserialize.log", "dags", "reserialize")
    server = ApiServer(env, tmp_path / "api-server.log")
    engine = engine_for_url(url)
    erp_metadata.create_all(engine)
    upgrade(engine)
    base.mkdir()
    try:
        facts = build_dataset(engine, base)
        reserialize.wait_ok()
        server.wait_ready()
        yield facts | {"engine": engine, "server": server, "shots": tmp_path}
    finally:
        if reserialize.process.poll() is None:
            reserialize.process.kill()
        server.stop()
        engine.dispose()


def test_a_finance_person_follows_a_case_and_asks_for_a_correction_file(browser_world):
    from browser import CHROMIUM, CHROMIUM_ARGS
    from playwright.sync_api import expect, sync_playwright

    from inkasso.db.schema import ink_case, ink_case_event, ink_file_log, ink_ui_action

    w = browser_world
    expect.set_options(timeout=30_000)  # two cores shared: the UI's first load can be slow
    shots = w["shots"]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        context = browser.new_context(
            accept_downloads=True, viewport={"width": 1500, "height": 950}
        )
        page = context.new_page()
        page.set_default_timeout(30_000)
        # log in through Airflow's own login page
        page.goto(w["server"].url + "/")
        page.locator("input[name=username], input#username").first.fill("admin")
        page.locator("input[name=password], input#password").first.fill(PASSWORD)
        page.locator("button[type=submit]").first.click()
        # Inkasso from the navigation opens the view inside the UI
        nav = page.get_by_role("link", name=re.compile("^Inkasso$")).or_(
            page.get_by_role("button", name=re.compile("^Inkasso$"))
        )
        nav.first.click()
        view = page.frame_locator('iframe[title="Inkasso"]')
        expect(view.locator("#cases")).to_be_visible()
        page.screenshot(path=str(shots / "01-cases.png"))

        # filter by agreement, then by the agency's reference, and open the case
        view.locator("select[name=agreement_id]").select_option(w["agreement_id"])
        view.get_by_role("button", name="Filter").click()
        with w["engine"].connect() as conn:
            n = conn.execute(
                select(func.count()).where(ink_case.c.agreement_id == w["agreement_id"])
            ).scalar_one()
        expect(view.locator(".pager span").first).to_have_text(f"{n} cases")
        agreements = view.locator("#cases tbody tr td:nth-child(3)").all_inner_texts()
        assert agreements and set(agreements) == {w["agreement_id"]}
        page.screenshot(path=str(shots / "02-cases-filtered.png"))
        view.locator("input[name=agency_ref]").fill("AG-777001")
        view.get_by_role("button", name="Filter").click()
        expect(view.locator("#cases tbody tr")).to_have_count(1)
        view.locator("#cases tbody tr a").first.click()
        expect(view.locator("#timeline")).to_be_visible()
        page.screenshot(path=str(shots / "03-case.png"))

        # the timeline is the database's history of the case, in order, each with its file
        with w["engine"].connect() as conn:
            events = conn.execute(
                select(ink_case_event.c.event_id, ink_case_event.c.kind, ink_file_log.c.file_name)
                .join(ink_file_log, ink_file_log.c.file_id == ink_case_event.c.file_id)
                .where(ink_case_event.c.case_id == w["case_id"])
                .order_by(ink_case_event.c.at, ink_case_event.c.event_id)
            ).all()
        items = view.locator("#timeline li")
        expect(items).to_have_count(len(events))
        for i, event in enumerate(events):
            text = items.nth(i).inner_text()
            assert items.nth(i).get_attribute("data-event-id") == str(event.event_id)
            assert event.kind in text and event.file_name in text

        # the receipt's file from the timeline, and its archived bytes
        view.locator("#timeline a", has_text="Kvitt_").first.click()
        expect(view.locator("#download")).to_be_visible()
        page.screenshot(path=str(shots / "04-file.png"))
        with page.expect_download() as download_info:
            view.locator("#download").click()
        download = download_info.value
        with w["engine"].connect() as conn:
            logged = conn.execute(
                select(ink_file_log.c.sha256, ink_file_log.c.file_name).where(
                    ink_file_log.c.file_id == w["receipt_file_id"]
                )
            ).one()
        assert download.suggested_filename == logged.file_name
        assert hashlib.sha256(open(download.path(), "rb").read()).hexdigest() == logged.sha256

        # the other pages open
        for tab, table, shot in (
            ("Files", "#files", "05-files.png"),
            ("Held back", "#hold-summary", "06-held-back.png"),
            ("Payouts", "#payouts", "07-payouts.png"),
            ("After closure", "#after-closure", "08-after-closure.png"),
        ):
            view.locator("nav.tabs a", has_text=tab).click()
            expect(view.locator(table)).to_be_visible()
            page.screenshot(path=str(shots / shot))

        # a quarantined file: its issue beside the line, and a person records it as handled
        view.locator("nav.tabs a", has_text="Files").click()
        view.locator("#files a", has_text="Kvitt_1_20261103060000.txt").click()
        expect(view.locator("#issues")).to_contain_text("unknown case 999999")
        view.locator("select[name=state]").select_option("dismissed")
        view.locator("input[name=note]").fill("agency confirmed: test file")
        view.get_by_role("button", name="Record").click()
        expect(view.locator("body")).to_contain_text("Marked dismissed by admin")
        page.screenshot(path=str(shots / "09-quarantined-file.png"))

        # generate the correction file now: a run of inkasso_corrections appears, as admin
        view.locator("nav.tabs a", has_text="Actions").click()
        form = view.locator("#corrections-now")
        form.locator("select[name=agreement_id]").select_option(w["agreement_id"])
        form.get_by_role("button").click()
        expect(view.locator("#message")).to_contain_text("run ")
        run_link = view.locator("#recent-actions tbody tr").first.locator("a")
        expect(run_link).to_contain_text("inkasso_corrections")
        page.screenshot(path=str(shots / "10-actions.png"))
        with w["engine"].connect() as conn:
            action = (
                conn.execute(
                    select(ink_ui_action).where(ink_ui_action.c.action == "corrections_now")
                )
                .mappings()
                .one()
            )
        assert (action["action"], action["username"], action["outcome"]) == (
            "corrections_now",
            "admin",
            "triggered",
        )
        token = next(c["value"] for c in context.cookies() if c["name"] == "_token")
        run = httpx.get(
            f"{w['server'].url}/api/v2/dags/inkasso_corrections/dagRuns/{action['dag_run_id']}",
            headers={"Authorization": f"Bearer {token}"},
        ).json()
        assert run["conf"] == {"agreement_id": w["agreement_id"]}
        # the link leads to the run in Airflow's own UI
        run_link.click()
        expect(page).to_have_url(re.compile(r"/dags/inkasso_corrections/runs/"))
        expect(page.locator('iframe[title="Inkasso"]')).to_have_count(0)
        expect(page.get_by_text(action["dag_run_id"]).first).to_be_visible()
        page.screenshot(path=str(shots / "11-run.png"))

        # in the UI's dark mode the view is dark too (it follows the page around it)
        page.emulate_media(color_scheme="dark")
        page.goto(w["server"].url + "/plugin/inkasso")
        view = page.frame_locator('iframe[title="Inkasso"]')
        expect(view.locator("#cases")).to_be_visible()
        assert page.evaluate("document.documentElement.classList.contains('dark')")
        expect(view.locator("html")).to_have_attribute("data-theme", "dark")
        page.screenshot(path=str(shots / "12-cases-dark.png"))
        browser.close()
