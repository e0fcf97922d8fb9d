"""``python -m inkasso_demo.simulator.robot``: the agency robot as a long-running service.

Every poll (``--interval`` / ``INKASSO_DEMO_POLL_SECONDS``, default 5 s) it answers what has
arrived in each automated agreement's upload folder (``<sftp root>/<agreement>/<upload dir>``)
and, playing the person, in each manual-export agreement's ``<INKASSO_BASE>/manual_outbox/``:
a receipt for every case file, as of the file's business day (its ``file_date``); that day's closure
file once its case file has arrived (the day's corrections come before dispatch). Days after
today (Europe/Oslo) wait for their day. The demo DAG ``inkasso_demo_day`` plays the same step
(``world.agency_answers``) for its logical date: both share the robot's state and lock in
``<sftp root>/.robot/``, so whichever comes first answers and nothing is answered twice.

Where: ``$AIRFLOW_HOME/inkasso-demo/agency-sftp`` (``INKASSO_DEMO_SFTP_ROOT`` for another), the
demo ERP of ``$AIRFLOW_HOME/inkasso-demo`` (``INKASSO_DEMO_ERP_URL``), ``INKASSO_BASE``.
SIGTERM / Ctrl-C stops it cleanly.
"""

from __future__ import annotations

import sys

from inkasso_demo.simulator.poll import business_today, run_service, service_args


def robot_step(env, base, seed: int) -> list[dict]:
    """One poll: answer what has arrived for every agreement; returns what was written."""
    from inkasso.agreements import load_agreements
    from inkasso.db.engine import engine_for_url
    from inkasso_demo.simulator.agency_robot import answer_arrived

    agreements = load_agreements(engine_for_url(env.erp_url))
    done = answer_arrived(env.sftp_root, agreements, business_today(), seed=seed, base=base)
    return [{k: d[k] for k in ("agreement_id", "day", "receipts", "closures")} for d in done]


def main(argv: list[str] | None = None) -> int:
    """Answer arriving files until SIGTERM / SIGINT."""
    args = service_args("python -m inkasso_demo.simulator.robot", __doc__, argv)

    from inkasso.runs import files_base
    from inkasso_demo.demo import SEED, DemoEnvironment

    env = DemoEnvironment.current()
    base = files_base()
    print(f"agency robot: accounts in {env.sftp_root}, manual exports in {base}", flush=True)
    return run_service("agency robot", lambda: robot_step(env, base, SEED), args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
