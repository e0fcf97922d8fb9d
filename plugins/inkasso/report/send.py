"""Exactly one report mail per client and day, through the Airflow ``smtp`` connection.

The mail log (``ink_mail_log``, unique ``(client_id, business_date, attempt)``) is the memory:

1. The latest attempt of the client's day decides. ``sent`` -> nothing to do (a rerun or a
   backfill sends nothing). No row, or ``failed`` (the server refused it, so it surely did not go
   out) -> the next attempt is sent.
2. Before the mail is handed to the server the attempt is written as ``sending`` (``sent_at`` =
   when sending began) and committed; after the server accepted it, it becomes ``sent``.
3. A ``sending`` row that a later run finds means the process stopped between handing the mail
   over and recording it: it may or may not have been delivered. It is **never resent
   silently**: the task fails with a message naming the attempt and its Message-ID (fixed per
   client, day and attempt, so the mail server's log can be searched for it). A person checks
   and, if it did not arrive, triggers the day again with ``resend=true``.
4. ``resend=true`` sends one new attempt (latest + 1), unless the latest attempt was made by
   this same DAG run (``ink_mail_log.run_id``): an Airflow retry of the run does not send a
   second copy; a new manual run with ``resend=true`` does.
5. An attempt after one that was ``sent`` or left ``sending`` says it is a resend (subject
   ``RESEND (attempt N): ...``, the first line of both bodies and the saved copy); one after
   refused attempts only is the first mail anyone gets and says nothing of the kind.

The SMTP session is opened (and logged in) before the ``sending`` row is written, so a server
that is down leaves no row behind. Sending uses the hook's SMTP client once, without the
hook's own retry loop (``send_email_smtp`` repeats ``sendmail`` on any error, which could
deliver twice) and with our own multipart/alternative message (plain text + HTML).
"""

from __future__ import annotations

import logging
import smtplib
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from email.message import EmailMessage
from email.utils import formatdate

from sqlalchemy import Engine, func, select, update
from sqlalchemy.exc import IntegrityError

from inkasso.db.schema import ink_mail_log
from inkasso.report.model import ClientReport
from inkasso.report.render import RenderedReport, as_resend

log = logging.getLogger(__name__)

DEFAULT_SENDER = "inkasso-report@localhost"


class MailStateError(RuntimeError):
    """A mail's state is uncertain (``sending`` left behind): a person must decide."""


@dataclass(frozen=True)
class MailOutcome:
    """What happened to one client's mail of the day (returned through XCom as a dict)."""

    client_id: int
    business_date: str
    status: str  # sent / already_sent / no_recipients
    attempt: int | None
    recipients: int
    html_path: str
    text_path: str


def message_id(client_id: int, day: date, attempt: int, sender: str) -> str:
    """Message-ID fixed per client, day and attempt (searchable in the mail server's log)."""
    domain = sender.rsplit("@", 1)[-1] or "localhost"
    return f"<inkasso-report.{client_id}.{day:%Y%m%d}.{attempt}@{domain}>"


def build_message(
    rendered: RenderedReport, sender: str, recipients: list[str], msg_id: str
) -> EmailMessage:
    """A multipart/alternative mail: plain text first, HTML second (UTF-8)."""
    msg = EmailMessage()
    msg["Subject"] = rendered.subject
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Date"] = formatdate(localtime=True)
    msg["Message-ID"] = msg_id
    msg.set_content(rendered.text, charset="utf-8")
    msg.add_alternative(rendered.html, subtype="html", charset="utf-8")
    return msg


def report_paths(base, day: date, client_id: int):
    """``<base>/reports/<YYYY-MM-DD>/<client_id>.html`` and ``.txt`` (ObjectStoragePath)."""
    folder = base / "reports" / day.isoformat()
    return folder / f"{client_id}.html", folder / f"{client_id}.txt"


def write_report_files(base, day: date, client_id: int, rendered: RenderedReport):
    """Keep the mail beside the archive: the HTML and plain-text files; returns both paths."""
    html_path, text_path = report_paths(base, day, client_id)
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(rendered.html, encoding="utf-8")
    text_path.write_text(rendered.text, encoding="utf-8")
    return html_path, text_path


@contextmanager
def smtp_session(conn_id: str):
    """Open and log in through ``SmtpHook(conn_id)``; yields ``(smtp client, sender address)``."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=conn_id) as hook:
        # the hook offers no public handle on its client; _smtp_client is what it sends with
        yield hook._smtp_client, hook.from_email or DEFAULT_SENDER


def _latest(engine: Engine, client_id: int, day: date):
    with engine.connect() as conn:
        return (
            conn.execute(
                select(ink_mail_log)
                .where(ink_mail_log.c.client_id == client_id, ink_mail_log.c.business_date == day)
                .order_by(ink_mail_log.c.attempt.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )


def _may_have_arrived_before(engine: Engine, report: ClientReport) -> bool:
    """An earlier attempt of the client's day was ``sent`` or left ``sending`` (not refused)."""
    m = ink_mail_log.c
    with engine.connect() as conn:
        return (
            conn.execute(
                select(func.count()).where(
                    m.client_id == report.client_id,
                    m.business_date == report.business_date,
                    m.status != "failed",
                )
            ).scalar()
            > 0
        )


def next_attempt(latest, *, resend: bool, run_id: str | None) -> int | None:
    """The attempt to send now, or None when the day's mail is already out (see module doc)."""
    if latest is None:
        return 1
    this_run = run_id is not None and latest["run_id"] == run_id
    if latest["status"] == "sending" and (not resend or this_run):
        raise MailStateError(
            f"report mail of client {latest['client_id']} for {latest['business_date']} attempt "
            f"{latest['attempt']} is still 'sending': the run stopped between handing it to the "
            "mail server and recording it, so it may have been delivered. Check the server's log "
            "for its Message-ID; trigger inkasso_report for that day with resend=true to send "
            "it again."
        )
    if latest["status"] == "failed":
        return latest["attempt"] + 1
    if resend and not this_run:
        return latest["attempt"] + 1
    return None


def mail_report(
    engine: Engine,
    report: ClientReport,
    rendered: RenderedReport,
    base,
    *,
    conn_id: str = "smtp_default",
    resend: bool = False,
    run_id: str | None = None,
    now: datetime | None = None,
) -> MailOutcome:
    """Send the client's mail of the day at most once (module doc); keep it as files."""
    day = report.business_date
    html_path, text_path = report_paths(base, day, report.client_id)

    def outcome(status: str, attempt: int | None) -> MailOutcome:
        return MailOutcome(
            report.client_id,
            day.isoformat(),
            status,
            attempt,
            len(report.recipients),
            str(html_path),
            str(text_path),
        )

    if not report.recipients:
        write_report_files(base, day, report.client_id, rendered)
        log.warning(
            "client %s has no report_recipients: mail kept as a file only", report.client_id
        )
        return outcome("no_recipients", None)
    attempt, latest = _attempt_now(engine, report, resend, run_id)
    if attempt is None:
        return outcome("already_sent", latest["attempt"])
    if _may_have_arrived_before(engine, report):
        rendered = as_resend(rendered, attempt)
    write_report_files(base, day, report.client_id, rendered)
    with smtp_session(conn_id) as (client, sender):
        msg = build_message(
            rendered, sender, report.recipients, message_id(report.client_id, day, attempt, sender)
        )
        mail_id = _claim_attempt(
            engine, report, rendered, attempt, str(html_path), run_id, now or datetime.now(UTC)
        )
        refused = _hand_over(engine, client, msg, sender, report.recipients, mail_id)
    _set_status(engine, mail_id, "sent", now or datetime.now(UTC))
    if refused:
        log.warning(
            "client %s: %d recipient(s) refused by the server", report.client_id, len(refused)
        )
    log.info(
        "client %s %s: attempt %d sent to %d recipient(s)",
        report.client_id,
        day,
        attempt,
        len(report.recipients),
    )
    return outcome("sent", attempt)


def _attempt_now(engine: Engine, report: ClientReport, resend: bool, run_id: str | None):
    """The attempt to send now (None: already sent) and the latest attempt logged."""
    day = report.business_date
    latest = _latest(engine, report.client_id, day)
    if latest is not None:
        log.info(
            "client %s %s: latest attempt %s is %r (run %s); resend=%s",
            report.client_id,
            day,
            latest["attempt"],
            latest["status"],
            latest["run_id"],
            resend,
        )
    attempt = next_attempt(latest, resend=resend, run_id=run_id)
    if attempt is None:
        log.info(
            "client %s %s: attempt %s already sent, nothing to do",
            report.client_id,
            day,
            latest["attempt"],
        )
    return attempt, latest


def _claim_attempt(
    engine: Engine,
    report: ClientReport,
    rendered: RenderedReport,
    attempt: int,
    html_path: str,
    run_id: str | None,
    began: datetime,
) -> int:
    """Log the attempt as ``sending`` before the mail leaves; its unique key stops a second run
    taking the same attempt. Returns the mail log id."""
    try:
        with engine.begin() as conn:
            return conn.execute(
                ink_mail_log.insert()
                .values(
                    client_id=report.client_id,
                    business_date=report.business_date,
                    attempt=attempt,
                    recipients=", ".join(report.recipients),
                    subject=rendered.subject[:200],
                    html_path=html_path,
                    status="sending",
                    sent_at=began,
                    run_id=run_id,
                )
                .returning(ink_mail_log.c.mail_id)
            ).scalar_one()
    except IntegrityError as exc:  # another run took this attempt at the same moment
        raise MailStateError(
            f"report mail of client {report.client_id} for {report.business_date} attempt "
            f"{attempt} is being sent by another run"
        ) from exc


def _hand_over(engine: Engine, client, msg: EmailMessage, sender: str, recipients, mail_id: int):
    """Give the mail to the server; a refusal marks the attempt ``failed`` (nothing was
    delivered, the next run may retry). Returns the refused recipients."""
    # any other error (connection lost, timeout) leaves 'sending': delivery is unknown
    try:
        return client.send_message(msg, from_addr=sender, to_addrs=recipients)
    except (smtplib.SMTPRecipientsRefused, smtplib.SMTPSenderRefused, smtplib.SMTPDataError):
        _set_status(engine, mail_id, "failed", None)
        raise


def _set_status(engine: Engine, mail_id: int, status: str, sent_at: datetime | None) -> None:
    values = {"status": status}
    if sent_at is not None:
        values["sent_at"] = sent_at
    with engine.begin() as conn:
        conn.execute(update(ink_mail_log).where(ink_mail_log.c.mail_id == mail_id).values(values))


def mail_counts(engine: Engine, day: date) -> dict[str, int]:
    """How many mail attempts of ``day`` are in each state (for the run's summary)."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(ink_mail_log.c.status, func.count())
            .where(ink_mail_log.c.business_date == day)
            .group_by(ink_mail_log.c.status)
        ).all()
    return {status: int(n) for status, n in rows}
