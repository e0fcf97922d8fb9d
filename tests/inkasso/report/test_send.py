"""Exactly one mail per client and day: the mail log's states, through a real SMTP server."""

from __future__ import annotations

import json
import smtplib
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import insert, select, text

from inkasso.report.gather import ClientReport
from inkasso.report.render import RenderedReport
from inkasso.report.send import MailStateError, mail_report, next_attempt

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


@pytest.fixture
def sink(tmp_path, monkeypatch):
    from inkasso_demo.simulator.mail_sink import MailSink

    with MailSink(tmp_path / "mails") as s:
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", s.connection_json())
        yield s


@pytest.fixture
def base(tmp_path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{tmp_path / 'files'}")


def _report(recipients=("a@example.no", "b@example.no")) -> ClientReport:
    return ClientReport(1, "Fjord AS", "NO", "NOK", DAY, list(recipients), 5)


RENDERED = RenderedReport("Inkasso 2026-11-02 Fjord AS", "<p>Hei</p>", "Hei")


def _log(engine):
    with engine.connect() as conn:
        return [
            dict(r)
            for r in conn.execute(
                text("SELECT attempt, status, run_id FROM ink_mail_log ORDER BY attempt")
            ).mappings()
        ]


def test_first_send_then_rerun_sends_nothing(erp_engine, sink, base):
    first = mail_report(erp_engine, _report(), RENDERED, base, run_id="r1", now=NOW)
    assert (first.status, first.attempt) == ("sent", 1)
    again = mail_report(erp_engine, _report(), RENDERED, base, run_id="r2", now=NOW)
    assert again.status == "already_sent"
    (msg,) = sink.messages()
    assert msg["To"] == "a@example.no, b@example.no"
    assert msg["Message-ID"] == "<inkasso-report.1.20261102.1@example.com>"
    assert msg.get_body(("plain",)).get_content().strip() == "Hei"
    assert _log(erp_engine) == [{"attempt": 1, "status": "sent", "run_id": "r1"}]
    assert (base / "reports" / "2026-11-02" / "1.html").read_text() == "<p>Hei</p>"


def test_resend_is_one_new_attempt_per_run(erp_engine, sink, base):
    mail_report(erp_engine, _report(), RENDERED, base, run_id="r1", now=NOW)
    assert mail_report(erp_engine, _report(), RENDERED, base, resend=True, run_id="r2").attempt == 2
    # the same run retried: no third mail
    assert (
        mail_report(erp_engine, _report(), RENDERED, base, resend=True, run_id="r2").status
        == "already_sent"
    )
    assert len(sink.messages()) == 2
    assert [r["attempt"] for r in _log(erp_engine)] == [1, 2]


def test_a_mail_left_sending_is_never_resent_silently(erp_engine, sink, base):
    from inkasso.db.schema import ink_mail_log

    with erp_engine.begin() as conn:  # the worker died after handing the mail over
        conn.execute(
            insert(ink_mail_log).values(
                client_id=1,
                business_date=DAY,
                attempt=1,
                recipients="a@example.no",
                subject="s",
                html_path="x",
                status="sending",
                sent_at=NOW,
                run_id="r1",
            )
        )
    with pytest.raises(MailStateError, match="may have been delivered"):
        mail_report(erp_engine, _report(), RENDERED, base, run_id="r1")
    with pytest.raises(MailStateError):
        mail_report(erp_engine, _report(), RENDERED, base, run_id="r2")
    assert sink.messages() == []
    # a person checked: it did not arrive, so a new run with resend=true sends attempt 2
    assert mail_report(erp_engine, _report(), RENDERED, base, resend=True, run_id="r3").attempt == 2
    assert len(sink.messages()) == 1


def test_a_refused_mail_is_marked_failed_and_the_next_run_sends_it(
    erp_engine, base, tmp_path, monkeypatch
):
    from aiosmtpd.controller import Controller

    from inkasso_demo.simulator.mail_sink import MailSink, _Handler

    class Refusing(_Handler):
        refuse = True

        async def handle_DATA(self, server, session, envelope):  # noqa: N802
            if Refusing.refuse:
                return "554 Transaction failed"
            return await super().handle_DATA(server, session, envelope)

    sink = MailSink(tmp_path / "mails")
    controller = Controller(Refusing(sink.folder), hostname="127.0.0.1", port=sink.port)
    controller.start()
    monkeypatch.setenv("AIRFLOW_CONN_SMTP_DEFAULT", sink.connection_json())
    try:
        with pytest.raises(smtplib.SMTPDataError):
            mail_report(erp_engine, _report(), RENDERED, base, run_id="r1")
        assert _log(erp_engine) == [{"attempt": 1, "status": "failed", "run_id": "r1"}]
        Refusing.refuse = False
        assert mail_report(erp_engine, _report(), RENDERED, base, run_id="r1").attempt == 2
    finally:
        controller.stop()
    assert len(sink.messages()) == 1


def test_no_recipients_keeps_the_file_and_logs_no_mail(erp_engine, sink, base):
    outcome = mail_report(erp_engine, _report(()), RENDERED, base, run_id="r1")
    assert outcome.status == "no_recipients"
    assert (base / "reports" / "2026-11-02" / "1.txt").read_text() == "Hei"
    assert _log(erp_engine) == [] and sink.messages() == []


def test_next_attempt_rules():
    sent = {"attempt": 1, "status": "sent", "run_id": "r1", "client_id": 1, "business_date": DAY}
    assert next_attempt(None, resend=False, run_id="r1") == 1
    assert next_attempt(sent, resend=False, run_id="r2") is None
    assert next_attempt(sent, resend=True, run_id="r2") == 2
    assert next_attempt(sent, resend=True, run_id="r1") is None
    assert next_attempt(sent | {"status": "failed"}, resend=False, run_id="r1") == 2


def test_record_failure_writes_a_masked_row_and_never_raises(erp_engine, erp_url, monkeypatch):
    from types import SimpleNamespace

    from inkasso.db.schema import ink_run_issue
    from inkasso.runs import record_failure

    monkeypatch.setenv(
        "AIRFLOW_CONN_ERP_DB",
        json.dumps({"conn_type": "generic", "extra": {"sqlalchemy_url": erp_url}}),
    )
    ti = SimpleNamespace(
        dag_id="inkasso_inbound",
        task_id="apply",
        run_id="scheduled__x",
        map_index=2,
        rendered_map_index="lowell_no",
        try_number=3,
    )
    context = {
        "ti": ti,
        "run_id": "scheduled__x",
        "logical_date": NOW,
        "exception": ValueError("debtor 01019012345 unknown"),
    }
    record_failure(context)
    with erp_engine.connect() as conn:
        row = conn.execute(select(ink_run_issue)).mappings().one()
    assert (row["dag_id"], row["task_id"], row["label"]) == (
        "inkasso_inbound",
        "apply",
        "lowell_no",
    )
    assert row["business_date"] == DAY
    assert row["error"] == "try 3: ValueError: debtor 010190***** unknown"

    monkeypatch.setenv("AIRFLOW_CONN_ERP_DB", json.dumps({"conn_type": "ftp"}))
    record_failure(context)  # an unusable database: logged, not raised
    record_failure({})  # nothing in the context: logged, not raised


def test_a_resend_says_it_is_a_resend_in_subject_bodies_and_saved_copy(erp_engine, sink, base):
    mail_report(erp_engine, _report(), RENDERED, base, run_id="r1", now=NOW)
    assert mail_report(erp_engine, _report(), RENDERED, base, resend=True, run_id="r2").attempt == 2
    first, second = sink.messages()
    assert "resend" not in first["Subject"].lower()
    assert second["Subject"].startswith("RESEND (attempt 2): Inkasso 2026-11-02 Fjord AS")
    assert "resend" in second.get_body(("plain",)).get_content().lower()
    assert "resend" in second.get_body(("html",)).get_content().lower()
    saved = (base / "reports" / "2026-11-02" / "1.html").read_text()
    assert "resend" in saved.lower() and "<p>Hei</p>" in saved
    with erp_engine.connect() as conn:
        subjects = conn.execute(text("SELECT subject FROM ink_mail_log ORDER BY attempt")).all()
    assert [s for (s,) in subjects] == [RENDERED.subject, second["Subject"]]


def test_a_mail_after_a_refused_attempt_is_not_called_a_resend(erp_engine, sink, base):
    from inkasso.db.schema import ink_mail_log

    with erp_engine.begin() as conn:  # attempt 1 was refused: nobody got it
        conn.execute(
            insert(ink_mail_log).values(
                client_id=1,
                business_date=DAY,
                attempt=1,
                recipients="a@example.no",
                subject="s",
                html_path="x",
                status="failed",
                sent_at=NOW,
                run_id="r1",
            )
        )
    assert mail_report(erp_engine, _report(), RENDERED, base, run_id="r2").attempt == 2
    (msg,) = sink.messages()
    assert msg["Subject"] == RENDERED.subject


def test_as_resend_marks_the_html_title_and_the_top_of_the_body():
    from inkasso.report.render import as_resend, render_report

    rendered = render_report(_report())
    marked = as_resend(rendered, 3)
    assert "<title>RESEND (attempt 3): Inkasso 2026-11-02 Fjord AS" in marked.html
    body = marked.html.split("<body>", 1)[1]
    assert body.lstrip().startswith('<p class="attention"><strong>RESEND (attempt 3)')
    assert marked.text.startswith("RESEND (attempt 3)") and rendered.text in marked.text
