"""inkasso_demo_day: the embedded default's world playing one business day around the five flows.

Loaded only when ``INKASSO_DEMO_WORLD=1`` (set by ``make airflow``); production deployments never
set it, so this DAG does not exist there.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task

from inkasso_demo.simulator.world import demo_run_id, demo_world_enabled

DOC = """
### inkasso_demo_day (demo world, embedded default only)

Plays one business day of the demo the way `make demo` does, for the run's logical date
(Europe/Oslo), against the long-running services of `make airflow` (agency SFTP simulator, SMTP
sink) and the demo ERP behind the `erp_db` connection:

1. **erp_activity**: the ERP's activity of the day before: new invoices, payments, the reminder
   routine marking invoices for collection, credit notes and recalls on cases at collection;
2. **bank_files**: the demo bank's payment files of the day in each client's drop;
3. triggers **inkasso_bank_import**, **inkasso_corrections** and **inkasso_dispatch** for the
   day (04:00, 04:30, 05:00) and waits for each to succeed;
4. **agency_answers**: the agency robot answers what it has received (receipts, closures; for
   the manual-export agreements it also plays the person carrying the files);
5. triggers **inkasso_inbound** (06:00) and **inkasso_report** (07:00) and waits.

The robot and the bank also run as services (`python -m inkasso_demo.simulator.robot`,
`python -m inkasso_demo.simulator.bank_service`, started by `make airflow`): the robot answers
files as they arrive, the bank writes a day's files once the ERP's day before is played. Steps 2
and 4 share their locks and records, so whichever comes first writes and the other finds it
done: the outcome is the same with or without the services.

Every step is done once per day, and the triggered runs are named `demo__<day>__<dag>` (as
`make demo` names its runs, so a day it played is reset here rather than refused): running
a day again (clear, or `airflow backfill create ... --reprocess-behavior completed`) reruns the
same runs, which send nothing twice. A backfill over a week of demo days, one day at a time:

```sh
airflow backfill create --dag-id inkasso_demo_day --from-date 2026-11-02 --to-date 2026-11-08T23:59 \\
    --max-active-runs 1
```

Loaded only with `INKASSO_DEMO_WORLD=1`; tagged `demo`.
"""

FLOWS = {  # the day's flows, at their scheduled time (Europe/Oslo)
    "inkasso_bank_import": (4, 0),
    "inkasso_corrections": (4, 30),
    "inkasso_dispatch": (5, 0),
    "inkasso_inbound": (6, 0),
    "inkasso_report": (7, 0),
}


def _trigger(dag_id: str):
    from airflow.providers.standard.operators.trigger_dagrun import TriggerDagRunOperator

    return TriggerDagRunOperator(
        task_id=f"run_{dag_id.removeprefix('inkasso_')}",
        trigger_dag_id=dag_id,
        trigger_run_id=demo_run_id("{{ ti.xcom_pull(task_ids='plan')['day'] }}", dag_id),
        logical_date=f"{{{{ ti.xcom_pull(task_ids='plan')['{dag_id}'] }}}}",
        reset_dag_run=True,  # a day played again reruns its runs (safe: nothing is sent twice)
        wait_for_completion=True,
        poke_interval=5,
        allowed_states=["success"],
        failed_states=["failed"],
        doc_md=f"Runs {dag_id} for the day and waits for it to succeed.",
    )


if demo_world_enabled():

    @dag(
        dag_id="inkasso_demo_day",
        schedule=CronTriggerTimetable("0 3 * * *", timezone="Europe/Oslo"),
        start_date=pendulum.datetime(2026, 11, 2, tz="Europe/Oslo"),
        catchup=False,
        max_active_runs=1,
        tags=["demo", "inkasso"],
        doc_md=DOC,
        default_args={"retries": 1, "retry_delay": timedelta(seconds=30)},
    )
    def inkasso_demo_day():
        @task(multiple_outputs=False)
        def plan() -> dict:
            """The business day and the logical date of each flow's run for it."""
            from datetime import datetime, time

            from inkasso.runs import BUSINESS_TZ, run_day

            day = run_day(get_current_context()).business_date
            out = {"day": day.isoformat()}
            for dag_id, (hour, minute) in FLOWS.items():
                at = datetime.combine(day, time(hour, minute), tzinfo=BUSINESS_TZ)
                out[dag_id] = at.isoformat()
            return out

        @task(multiple_outputs=False)
        def erp_activity(planned: dict) -> dict:
            """The ERP's activity of the day before (once per day)."""
            from datetime import date

            from inkasso.db.engine import erp_engine
            from inkasso.runs import files_base
            from inkasso_demo.simulator.world import erp_activity

            day = date.fromisoformat(planned["day"])
            return erp_activity(erp_engine(), day, base=files_base())

        @task(multiple_outputs=False)
        def bank_files(planned: dict) -> dict:
            """The demo bank's payment files of the day (once per day)."""
            from datetime import date

            from inkasso.db.engine import erp_engine
            from inkasso.runs import files_base
            from inkasso_demo.simulator.world import bank_files

            return bank_files(erp_engine(), files_base(), date.fromisoformat(planned["day"]))

        @task(multiple_outputs=False)
        def agency_answers(planned: dict) -> dict:
            """The agencies answer what they received (receipts, closures; once per day)."""
            from datetime import date

            from inkasso.db.engine import erp_engine
            from inkasso.runs import files_base
            from inkasso_demo.simulator.world import agency_answers

            return agency_answers(erp_engine(), files_base(), date.fromisoformat(planned["day"]))

        planned = plan()
        before = [_trigger(d) for d in ("inkasso_bank_import", "inkasso_corrections")]
        dispatch = _trigger("inkasso_dispatch")
        inbound, report = _trigger("inkasso_inbound"), _trigger("inkasso_report")
        answers = agency_answers(planned)
        erp_activity(planned) >> bank_files(planned) >> before[0] >> before[1] >> dispatch
        dispatch >> answers >> inbound >> report

    inkasso_demo_day()
