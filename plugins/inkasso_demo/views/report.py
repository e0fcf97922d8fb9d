"""What the demo prints after a day's inkasso_report: the mails and where their files are."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Engine, select

from inkasso.db.schema import erp_client, ink_mail_log
from inkasso.report.send import report_paths


def print_report_day(engine: Engine, day: date, base, mail_dir=None) -> None:
    """Print each client's mail of ``day`` (state, attempt, recipients) and its HTML/text files.

    ``base`` is the files base (``inkasso.runs.files_base()`` or the same ``ObjectStoragePath``);
    ``mail_dir`` is where a local SMTP sink keeps the received ``.eml`` files, if any.
    """
    with engine.connect() as conn:
        clients = conn.execute(
            select(erp_client.c.client_id, erp_client.c.name).order_by(erp_client.c.client_id)
        ).all()
        mails = conn.execute(
            select(ink_mail_log)
            .where(ink_mail_log.c.business_date == day)
            .order_by(ink_mail_log.c.client_id, ink_mail_log.c.attempt)
        ).mappings()
        latest = {m["client_id"]: m for m in mails}
    print(f"\n=== inkasso_report {day} ===")
    folder = base / "reports" / day.isoformat()
    for client_id, name in clients:
        html, text = report_paths(base, day, client_id)
        if not html.exists():
            continue
        mail = latest.get(client_id)
        state = (
            f"{mail['status']} (attempt {mail['attempt']}) to {mail['recipients']}"
            if mail
            else "not mailed"
        )
        print(f"{client_id:3} {name[:30]:30} {state}")
        print(f"    {html.path if hasattr(html, 'path') else html}")
    print(f"report files: {folder}")
    if mail_dir is not None:
        print(f"mails received by the local SMTP sink (.eml): {mail_dir}")
