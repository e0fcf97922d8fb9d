"""What a person can ask for in the Inkasso view: DAG runs through Airflow's REST API, and the
handling of quarantined files. Each request is recorded in ``ink_ui_action`` (who, when, run).

DAG runs are created by Airflow's own ``POST /api/v2/dags/{dag_id}/dagRuns`` with the user's
token, so Airflow checks the user's permission again, validates the Params and shows the user
as the one who triggered the run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, func, insert, not_, select, update
from sqlalchemy.engine import Engine

from inkasso.db.schema import ink_file_log, ink_ui_action

BUSINESS_TZ = ZoneInfo("Europe/Oslo")

# action -> the DAG it triggers
ACTION_DAGS = {
    "corrections_now": "inkasso_corrections",
    "read_outbox": "inkasso_inbound",
}
# DAGs a day can be re-run for, per agreement, and the time of day of their schedule (Oslo):
# a re-run gets the logical date the scheduled run of that day has, so it works on that day
RERUN_DAGS = {
    "inkasso_corrections": time(4, 30),
    "inkasso_dispatch": time(5, 0),
    "inkasso_inbound": time(6, 0),
}
HANDLED_STATES = {"resent": "file_resent", "dismissed": "file_dismissed"}


@dataclass(frozen=True)
class Triggered:
    """The outcome of a trigger: the run id (when Airflow created one) or Airflow's answer."""

    ok: bool
    dag_id: str
    dag_run_id: str | None
    message: str


def rerun_logical_date(dag_id: str, day: date) -> datetime:
    """The logical date of ``dag_id``'s scheduled run on business day ``day`` (UTC)."""
    return datetime.combine(day, RERUN_DAGS[dag_id], tzinfo=BUSINESS_TZ).astimezone(UTC)


def trigger_dag(
    api_url: str,
    token: str,
    dag_id: str,
    conf: dict,
    *,
    logical_date: datetime | None,
    note: str,
    timeout: float = 30.0,
) -> Triggered:
    """Create a DAG run through Airflow's REST API as the user whose ``token`` this is."""
    import httpx

    body = {
        "logical_date": logical_date.isoformat() if logical_date else None,
        "conf": conf,
        "note": note,
    }
    try:
        response = httpx.post(
            f"{api_url.rstrip('/')}/api/v2/dags/{dag_id}/dagRuns",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )
    except httpx.HTTPError as exc:
        return Triggered(False, dag_id, None, f"Airflow's API could not be reached: {exc}")
    if response.status_code in (200, 201):
        return Triggered(True, dag_id, response.json()["dag_run_id"], "triggered")
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    return Triggered(False, dag_id, None, f"Airflow answered {response.status_code}: {detail}")


def record_action(
    engine: Engine,
    *,
    username: str,
    action: str,
    outcome: str,
    agreement_id: str | None = None,
    business_date: date | None = None,
    file_id: int | None = None,
    dag_id: str | None = None,
    dag_run_id: str | None = None,
    note: str | None = None,
    now: datetime | None = None,
) -> int:
    """Write one ``ink_ui_action`` row and return its id."""
    with engine.begin() as conn:
        result = conn.execute(
            insert(ink_ui_action).values(
                at=now or datetime.now(UTC),
                username=username[:100],
                action=action,
                agreement_id=agreement_id,
                business_date=business_date,
                file_id=file_id,
                dag_id=dag_id,
                dag_run_id=dag_run_id,
                outcome=outcome,
                note=note,
            )
        )
        return int(result.inserted_primary_key[0])


DOUBLE_SUBMIT_SECONDS = 30  # the same action by the same person this soon again is a double click


def just_triggered(
    engine: Engine,
    *,
    username: str,
    action: str,
    agreement_id: str,
    dag_id: str,
    business_date: date | None,
    now: datetime,
) -> dict | None:
    """The same action of the same person that created a run in the last
    ``DOUBLE_SUBMIT_SECONDS`` (a double click), or None."""
    a = ink_ui_action.c
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(a.at, a.dag_run_id)
                .where(
                    a.username == username[:100],
                    a.action == action,
                    a.agreement_id == agreement_id,
                    a.dag_id == dag_id,
                    a.business_date.is_(None)
                    if business_date is None
                    else a.business_date == business_date,
                    a.outcome == "triggered",
                    a.at >= now - timedelta(seconds=DOUBLE_SUBMIT_SECONDS),
                )
                .order_by(a.at.desc())
                .limit(1)
            )
            .mappings()
            .first()
        )
    return dict(row) if row else None


def mark_file_handled(
    engine: Engine, file_id: int, state: str, note: str, username: str, now: datetime | None = None
) -> bool:
    """Record that a person handled a quarantined file (``resent`` / ``dismissed``, with a note).

    The file stays in the log with its status and issues; only a quarantined file can be
    marked. The same decision sent again (a double click) changes and records nothing; another
    decision replaces it and is recorded. Returns False when the file is not quarantined.
    """
    if state not in HANDLED_STATES:
        raise ValueError(f"unknown handled state {state!r}")
    now = now or datetime.now(UTC)
    f = ink_file_log.c
    quarantined = and_(f.file_id == file_id, f.status == "quarantined")
    same = and_(
        func.coalesce(f.handled_state, "") == state, func.coalesce(f.handled_note, "") == note
    )
    with engine.begin() as conn:
        # one conditional UPDATE: a second request waits for the first's row lock and then
        # finds the decision already there (PostgreSQL re-checks the WHERE; SQLite serialises)
        changed = conn.execute(
            update(ink_file_log)
            .where(quarantined, not_(same))
            .values(
                handled_state=state, handled_note=note, handled_by=username[:100], handled_at=now
            )
        ).rowcount
        if changed:
            conn.execute(
                insert(ink_ui_action).values(
                    at=now,
                    username=username[:100],
                    action=HANDLED_STATES[state],
                    file_id=file_id,
                    outcome="recorded",
                    note=note,
                )
            )
            return True
        return conn.execute(select(func.count()).where(quarantined)).scalar_one() > 0
