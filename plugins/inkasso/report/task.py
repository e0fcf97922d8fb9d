"""The report DAG's task bodies: a few lines that tie the run's context to gather/render/send."""

from __future__ import annotations

import logging
from dataclasses import asdict
from datetime import date

log = logging.getLogger(__name__)


def report_day(context, params: dict) -> date:
    """The day to report: the ``business_date`` Param, else the run's business day."""
    from inkasso.runs import run_day

    value = params.get("business_date")
    return date.fromisoformat(value) if value else run_day(context).business_date


def report_one_client(
    context, client: dict, params: dict, missing: list[str] | None = None
) -> dict:
    """Gather, render, keep and send one client's mail of the day; returns the outcome.

    ``missing``: sentences naming the day's upstream flows that did not run (the mail's top)."""
    import pendulum

    from inkasso.db.engine import erp_engine
    from inkasso.report.gather import gather_client_day
    from inkasso.report.render import render_report
    from inkasso.report.send import mail_report
    from inkasso.runs import files_base, label, progress

    label(context, f"client {client['client_id']}: {client['name']}")
    day = report_day(context, params)
    engine = erp_engine()
    now = pendulum.now("UTC")
    stale_days = int(params.get("stale_days", 5))
    report = gather_client_day(engine, client["client_id"], day, stale_days, as_of=now)
    report.flows_missing = list(missing or [])
    progress(log, f"client {client['client_id']} {day}: steps (gather, render, send)", 1, 3)
    rendered = render_report(report)
    progress(log, f"client {client['client_id']} {day}: steps (gather, render, send)", 2, 3)
    outcome = mail_report(
        engine,
        report,
        rendered,
        files_base(),
        conn_id=params.get("smtp_conn_id") or "smtp_default",
        resend=bool(params.get("resend")),
        run_id=context["run_id"],
        now=now,
    )
    progress(log, f"client {client['client_id']} {day}: steps (gather, render, send)", 3, 3)
    return asdict(outcome)


def log_outcomes(outcomes: list[dict]) -> dict:
    """Log one line per client (status, attempt, file) and return the counts by status."""
    from inkasso.runs import progress

    counts: dict[str, int] = {}
    for done, o in enumerate(outcomes, 1):
        counts[o["status"]] = counts.get(o["status"], 0) + 1
        log.info(
            "client %s %s: %s (attempt %s) %s",
            o["client_id"],
            o["business_date"],
            o["status"],
            o["attempt"],
            o["html_path"],
        )
        progress(log, "clients reported", done, len(outcomes))
    return {"clients": len(outcomes), **counts}
