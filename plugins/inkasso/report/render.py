"""The mail's subject, HTML and plain text from a ``ClientReport`` (Jinja2 templates in
``include/templates/report.html.j2`` and ``report.txt.j2``)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from inkasso.config import TEMPLATES_DIR
from inkasso.money.amounts import format_money
from inkasso.report.model import ClientReport


@dataclass(frozen=True)
class RenderedReport:
    """A mail ready to send: subject, HTML and plain-text bodies."""

    subject: str
    html: str
    text: str


@cache
def _environment():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=lambda name: bool(name) and name.endswith(".html.j2"),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["money"] = format_money
    return env


def subject_of(report: ClientReport) -> str:
    """``Inkasso 2026-11-02 Fjord AS: 12 cases sent, 2 to look at``."""
    sent = sum(a.cases_sent.n for a in report.agencies)
    todo = len(report.attention)
    tail = f", {todo} to look at" if todo else ""
    return f"Inkasso {report.business_date:%Y-%m-%d} {report.name}: {sent} cases sent{tail}"


def as_resend(rendered: RenderedReport, attempt: int) -> RenderedReport:
    """The same mail marked as a resend (attempt ``attempt``): subject, first line of the text,
    the HTML's title and a note at the top of its body, so nobody takes it for a new day's
    figures."""
    note = (
        f"RESEND (attempt {attempt}): this mail repeats the report of the same day; "
        "an earlier copy may already have arrived."
    )
    marker = "<body>\n"
    html_note = f'<p class="attention"><strong>{note}</strong></p>\n'
    html = (
        rendered.html.replace(marker, marker + html_note, 1)
        if marker in rendered.html
        else html_note + rendered.html
    )
    return RenderedReport(
        subject=f"RESEND (attempt {attempt}): {rendered.subject}",
        html=html.replace("<title>", f"<title>RESEND (attempt {attempt}): ", 1),
        text=f"{note}\n\n{rendered.text}",
    )


def render_report(report: ClientReport) -> RenderedReport:
    """Render both bodies; the data is already masked (``gather``), the templates only format."""
    env = _environment()
    values = {"r": report, "cur": report.currency, "subject": subject_of(report)}
    return RenderedReport(
        subject=values["subject"],
        html=env.get_template("report.html.j2").render(values),
        text=env.get_template("report.txt.j2").render(values),
    )
