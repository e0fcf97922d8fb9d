"""inkasso_report end to end: a known day (dispatch over the SFTP simulator, plus the inbound,
corrections, bank and failure rows the other flows write), the report DAG run with dag.test, the
mails received by a real SMTP server (aiosmtpd), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import insert, select, update

from conftest import frame

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 2)
OSLO = "Europe/Oslo"
NOW = datetime(2026, 11, 2, 6, 30, tzinfo=UTC)


@pytest.fixture
def mail_sink(tmp_path, monkeypatch):
    """A real SMTP server on a free port behind the `smtp_default` connection."""
    from inkasso_demo.simulator.mail_sink import MailSink

    with MailSink(tmp_path / "mails") as sink:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", sink.connection_json())
        yield sink


@pytest.fixture(scope="module")
def dispatch_dag(load_dag):
    return load_dag("inkasso_dispatch")


@pytest.fixture
def report_dag(load_dag):
    """Parsed for each test: dag.test keeps a run_conf's values in the DAG's params."""
    return load_dag("inkasso_report")


def run(dag, day=DAY, hour=7, new_run=False, **conf):
    """dag.test of ``day``; ``new_run`` makes it a new run (as a manual trigger is), else the
    day's run is run again."""
    import pendulum

    return dag.test(
        logical_date=pendulum.datetime(day.year, day.month, day.day, hour, tz=OSLO),
        run_after=pendulum.now("UTC") if new_run else None,
        run_conf=conf or None,
    )


def _file(conn, client_id, agreement_id, direction, kind, name, status, **extra):
    from inkasso.db.schema import ink_file_log

    values = {
        "client_id": client_id,
        "agreement_id": agreement_id,
        "direction": direction,
        "kind": kind,
        "file_name": name,
        "business_date": DAY,
        "status": status,
        "path": f"file:///archive/{name}",
        "sha256": name.encode().hex()[:64].ljust(64, "0"),
        "size_bytes": 100,
        "record_count": 0,
        "amount_total": 0,
        "created_at": NOW,
    } | extra
    return conn.execute(
        insert(ink_file_log).values(values).returning(ink_file_log.c.file_id)
    ).scalar()


def build_known_day(engine) -> dict:
    """What inbound, corrections, bank import and a failing task would have written for DAY
    (Lowell NO's client); returns the figures the mail must show."""
    from inkasso.db.schema import (
        erp_customer,
        erp_payment,
        ink_agreement,
        ink_case,
        ink_case_event,
        ink_collection,
        ink_correction,
        ink_file_issue,
        ink_payout,
        ink_run_issue,
    )

    with engine.begin() as conn:
        client = conn.execute(
            select(ink_agreement.c.client_id).where(ink_agreement.c.agreement_id == "lowell_no")
        ).scalar()
        cases = conn.execute(
            select(
                ink_case.c.case_id,
                ink_case.c.sent_amount,
                ink_case.c.customer_id,
                ink_case.c.invoice_id,
            )
            .where(ink_case.c.agreement_id == "lowell_no")
            .order_by(ink_case.c.case_id)
        ).all()
        assert len(cases) >= 8, "the demo day sends Lowell NO enough cases"
        nid = conn.execute(
            select(erp_customer.c.national_id).where(
                erp_customer.c.customer_id == cases[3].customer_id
            )
        ).scalar()

        # receipts: 3 accepted, 2 rejected (the reason quotes the national id), with the
        # events the apply writes (registered / rejected)
        receipt = _file(conn, client, "lowell_no", "in", "receipt", "Kvitt_1.txt", "applied")
        for i, c in enumerate(cases[:5]):
            values = (
                {"status": "registered", "agency_case_ref": f"L{c.case_id}"}
                if i < 3
                else {"status": "rejected", "rejection_reason": f"ugyldig fødselsnummer {nid}"}
            )
            conn.execute(update(ink_case).where(ink_case.c.case_id == c.case_id).values(values))
            conn.execute(
                insert(ink_case_event).values(
                    case_id=c.case_id,
                    at=NOW,
                    kind="registered" if i < 3 else "rejected",
                    file_id=receipt,
                )
            )
        # closures: one paid, one partly paid (10.00 collected)
        closure = _file(conn, client, "lowell_no", "in", "closure", "Avsl_1.txt", "applied")
        paid, part = cases[5], cases[6]
        conn.execute(
            update(ink_case)
            .where(ink_case.c.case_id == paid.case_id)
            .values(status="paid", is_open=False, collected_amount=paid.sent_amount)
        )
        conn.execute(
            update(ink_case)
            .where(ink_case.c.case_id == part.case_id)
            .values(
                status="partly_paid",
                is_open=False,
                collected_amount=1000,
                closed_remaining_amount=part.sent_amount - 1000,
            )
        )
        # the events as the apply writes them: the file's status, its totals in the integer
        # columns (the report reads them there) and in the text
        for c, kind, collected in ((paid, "paid", paid.sent_amount), (part, "partly_paid", 1000)):
            conn.execute(
                insert(ink_case_event).values(
                    case_id=c.case_id,
                    at=NOW,
                    kind=kind,
                    detail=f"collected {collected}, remaining {c.sent_amount - collected},"
                    f" closed {DAY} (Avsl_1.txt)",
                    file_id=closure,
                    collected_amount=collected,
                    remaining_amount=c.sent_amount - collected,
                )
            )
        # what the agency collected (ink_collection), which the payouts below pay: 1 500,00 on
        # the paid case two days before, 750,00 on the other the day before
        for c, amount, days in ((paid, 150000, 2), (part, 75000, 1)):
            conn.execute(
                insert(ink_collection).values(
                    agreement_id="lowell_no",
                    case_id=c.case_id,
                    invoice_id=c.invoice_id,
                    file_id=closure,
                    closure_date=DAY - timedelta(days=days),
                    amount=amount,
                    booked_amount=0,
                    created_at=NOW,
                )
            )
        # corrections sent: two direct payments (50.00 + 75.00), one credit note (123.45)
        rd = _file(conn, client, "lowell_no", "out", "corrections", "RD_1.txt", "delivered")
        for source_id, (kind, amount) in enumerate([("DP", 5000), ("DP", 7500), ("CN", 12345)]):
            conn.execute(
                insert(ink_correction).values(
                    case_id=cases[7].case_id,
                    agreement_id="lowell_no",
                    source="payment",
                    source_id=9000 + source_id,
                    correction_type=kind,
                    amount=amount,
                    correction_date=DAY,
                    file_id=rd,
                    created_at=NOW,
                )
            )
        # a bank file with two agency payouts by KID (bank mode): one matched, one that differs
        _file(
            conn,
            client,
            None,
            "in",
            "ocr_giro",
            "OCR.D021126.txt",
            "applied",
            record_count=2,
            amount_total=230000,
        )
        for ref, amount, rec, settled, c, days in [
            ("p1", 150000, "matched", 150000, paid, 2),
            ("p2", 80000, "differs", 75000, part, 1),
        ]:
            pid = conn.execute(
                insert(erp_payment)
                .values(
                    client_id=client,
                    bank_file="OCR.D021126.txt",
                    payment_ref=ref,
                    amount=amount,
                    payment_date=DAY - timedelta(days=days),
                    kind="collection",
                    booked_at=NOW,
                )
                .returning(erp_payment.c.payment_id)
            ).scalar()
            conn.execute(
                insert(ink_payout).values(
                    agreement_id="lowell_no",
                    payment_id=pid,
                    amount=amount,
                    payment_date=DAY - timedelta(days=days),
                    case_id=c.case_id,
                    reconciliation=rec,
                    settled_amount=settled,
                    detail=None if rec == "matched" else "settlement says 750,00",
                )
            )
        # a quarantined closure file: line 3, field national_id (the reason quotes the id)
        bad = _file(conn, client, "lowell_no", "in", "closure", "Avsl_2.txt", "quarantined")
        conn.execute(
            insert(ink_file_issue).values(
                file_id=bad, line=3, field="national_id", reason=f"unknown debtor {nid}"
            )
        )
        # a failed task of the inbound DAG for Lowell NO (its error quotes the id)
        conn.execute(
            insert(ink_run_issue).values(
                dag_id="inkasso_inbound",
                task_id="apply",
                label="lowell_no",
                run_id="scheduled__2026-11-02",
                business_date=DAY,
                error=f"ValueError: case for {nid} not found",
                at=NOW,
            )
        )
    return {"client_id": client, "nid": nid, "cases": cases}


def _mails(sink):
    """(message, plain text, html) of every mail received; line ends as written."""

    def body(m, kind):
        return m.get_body((kind,)).get_content().replace("\r\n", "\n")

    return [(m, body(m, "plain"), body(m, "html")) for m in sink.messages()]


def _national_ids(engine) -> set[str]:
    return set(frame(engine, "SELECT national_id FROM erp_customer")["national_id"])


def test_known_day_mail_figures_once_then_resend(
    airflow_db, demo_erp, agency, files_base, mail_sink, dispatch_dag, report_dag, capfd, caplog
):
    from inkasso.money.amounts import format_money as format_amount

    assert run(dispatch_dag, hour=5).state == "success"
    known = build_known_day(demo_erp)
    client_id = known["client_id"]
    caplog.set_level(logging.INFO)

    assert run(report_dag).state == "success"
    clients = frame(demo_erp, "SELECT client_id, report_recipients FROM erp_client")
    mails = _mails(mail_sink)
    assert len(mails) == len(clients), "one mail per client"
    assert {m["Message-ID"] for m, _, _ in mails}.__len__() == len(mails)
    by_client = {}
    for m, plain, html in mails:
        assert m.get_content_type() == "multipart/alternative"
        for _, row in clients.iterrows():
            if m["To"] == row["report_recipients"]:
                by_client[int(row["client_id"])] = (m, plain, html)
    assert len(by_client) == len(clients)

    m, plain, html = by_client[client_id]
    sent = frame(
        demo_erp,
        "SELECT COUNT(*) AS n, SUM(sent_amount) AS a FROM ink_case WHERE agreement_id = 'lowell_no'",
    )
    n_sent, amount_sent = int(sent["n"][0]), int(sent["a"][0])
    assert f"Cases sent:          {n_sent:6d}  {format_amount(amount_sent, 'NOK')}" in plain
    assert "Corrections DP (direct payment): 2  125,00 NOK" in plain
    assert "Corrections CN (credit note): 1  123,45 NOK" in plain
    accepted = sum(c.sent_amount for c in known["cases"][:3])
    assert f"Receipts accepted:        3  {format_amount(accepted, 'NOK')}" in plain
    rejected = sum(c.sent_amount for c in known["cases"][3:5])
    masked = known["nid"][:6] + "*****"
    assert f"  - ugyldig fødselsnummer {masked}: 2  {format_amount(rejected, 'NOK')}" in plain
    paid, part = known["cases"][5], known["cases"][6]
    assert (
        f"  - paid: 1 case(s), sent {format_amount(paid.sent_amount, 'NOK')}, "
        f"collected {format_amount(paid.sent_amount, 'NOK')}, remaining 0,00 NOK"
    ) in plain
    assert (
        f"collected 10,00 NOK, remaining {format_amount(part.sent_amount - 1000, 'NOK')}" in plain
    )
    assert "  - matched: 1 payout(s), paid out 1 500,00 NOK, settled 1 500,00 NOK" in plain
    assert "  - differs: 1 payout(s), paid out 800,00 NOK, settled 750,00 NOK" in plain
    assert f"Avsl_2.txt line 3, field national_id: unknown debtor {masked}" in plain
    assert f"inkasso_inbound.apply [lowell_no]: ValueError: case for {masked} not found" in plain
    assert "OCR.D021126.txt (ocr_giro, applied): 2 payment(s), 2 300,00 NOK" in plain
    holds = frame(
        demo_erp,
        "SELECT h.reason, i.currency, COUNT(*) AS n, SUM(i.remaining_amount) AS a "
        "FROM ink_dispatch_hold h JOIN erp_invoice i ON i.invoice_id = h.invoice_id "
        "WHERE h.agreement_id = 'lowell_no' GROUP BY h.reason, i.currency",
    )
    assert set(holds["currency"]) != {"NOK"}, "the demo holds an invoice in another currency"
    for h in holds.itertuples():  # each in its own currency, never added into NOK
        assert f"  - {h.reason}: {h.n}  {format_amount(int(h.a), h.currency)}" in plain
    assert "1 file(s) quarantined" in plain and "2 case(s) rejected" in html
    assert "<td>national_id</td>" in html and "Avsl_2.txt" in html

    # the manual-export agreements' mails say which file waits where
    manual = frame(
        demo_erp,
        "SELECT f.client_id, f.file_name, f.remote_path FROM ink_file_log f "
        "WHERE f.status = 'exported'",
    )
    assert not manual.empty
    for f in manual.itertuples():
        _, plain_m, _ = by_client[int(f.client_id)]
        assert f"Files to send to the agency by hand:\n  - {f.file_name}:" in plain_m
        assert f.remote_path in plain_m

    # kept as files: the HTML and text of the mail
    folder = files_base / "reports" / DAY.isoformat()
    assert (folder / f"{client_id}.html").read_text(encoding="utf-8") == html
    assert (folder / f"{client_id}.txt").read_text(encoding="utf-8") == plain

    # no national id unmasked in any mail, any kept file or the task logs
    ids = _national_ids(demo_erp)
    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "steps (gather, render, send): 3 of 3 done" in logs, "the task logs were captured"
    everything = [p + h for _, p, h in mails] + [p.read_text() for p in folder.iterdir()] + [logs]
    leaked = {nid for nid in ids for blob in everything if nid in blob}
    assert not leaked

    # a rerun of the day sends nothing
    assert run(report_dag).state == "success"
    assert len(mail_sink.messages()) == len(clients)
    log_rows = frame(demo_erp, "SELECT client_id, attempt, status FROM ink_mail_log")
    assert len(log_rows) == len(clients) and set(log_rows["status"]) == {"sent"}

    # resend: exactly one new attempt for the client asked for
    assert run(report_dag, new_run=True, resend=True, client_id=client_id).state == "success"
    assert len(mail_sink.messages()) == len(clients) + 1
    again = frame(
        demo_erp,
        "SELECT attempt, status FROM ink_mail_log WHERE client_id = :c ORDER BY attempt",
        c=client_id,
    )
    assert list(again["attempt"]) == [1, 2] and set(again["status"]) == {"sent"}


def test_cases_without_receipt_after_n_days_and_a_report_day_param(
    airflow_db, demo_erp, agency, files_base, mail_sink, dispatch_dag, report_dag
):
    from inkasso.money.amounts import format_money as format_amount

    assert run(dispatch_dag, hour=5).state == "success"
    later = DAY + timedelta(days=6)
    assert run(report_dag, business_date=later.isoformat(), stale_days=5).state == "success"
    stale = frame(
        demo_erp,
        "SELECT agreement_id, COUNT(*) AS n, SUM(sent_amount) AS a FROM ink_case "
        "WHERE status = 'sent' GROUP BY agreement_id",
    )
    plain = "\n".join(p for _, p, _ in _mails(mail_sink))
    assert later.isoformat() in plain
    for s in stale.itertuples():
        assert (
            f"Cases without receipt after 5 days: {s.n}, {format_amount(int(s.a), 'NOK')}" in plain
            or f"Cases without receipt after 5 days: {s.n}, {format_amount(int(s.a), 'SEK')}"
            in plain
        )


def test_a_failed_mail_task_is_recorded_and_nothing_half_sent(
    airflow_db, demo_erp, files_base, report_dag, monkeypatch, tmp_path
):
    """SMTP down: the task fails, the failure lands in ink_run_issue, no mail log row is left."""
    from inkasso_demo.simulator.mail_sink import free_port

    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps(
            {
                "conn_type": "smtp",
                "host": "127.0.0.1",
                "port": free_port(),
                "extra": {"disable_ssl": True, "disable_tls": True, "retry_limit": 0},
            }
        ),
    )
    client = int(frame(demo_erp, "SELECT MIN(client_id) AS c FROM erp_client")["c"][0])
    assert run(report_dag, client_id=client).state == "failed"
    issues = frame(demo_erp, "SELECT * FROM ink_run_issue")
    assert len(issues) == 1, issues.to_dict("records")
    issue = issues.iloc[0]
    assert (issue["dag_id"], issue["task_id"]) == ("inkasso_report", "mail")
    assert issue["label"].startswith(f"client {client}: ")
    assert str(issue["business_date"])[:10] == DAY.isoformat()
    assert "Connection refused" in issue["error"] or "connect" in issue["error"].lower()
    assert frame(demo_erp, "SELECT * FROM ink_mail_log").empty
    assert Path(files_base / "reports" / DAY.isoformat() / f"{client}.html").exists()


def test_demo_view_prints_where_the_mails_are(
    airflow_db, demo_erp, files_base, mail_sink, report_dag, capsys
):
    from inkasso.runs import files_base as base
    from inkasso_demo.views.report import print_report_day

    assert run(report_dag).state == "success"
    capsys.readouterr()
    print_report_day(demo_erp, DAY, base(), mail_dir=mail_sink.folder)
    out = capsys.readouterr().out
    assert "=== inkasso_report 2026-11-02 ===" in out
    assert out.count("sent (attempt 1) to ekonomi@") == 8
    assert str(files_base / "reports" / "2026-11-02" / "1.html") in out
    assert str(mail_sink.folder) in out
