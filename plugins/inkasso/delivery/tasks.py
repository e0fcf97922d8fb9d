"""The DAGs' side of delivery: the one ``deliver`` task both outgoing flows end with, and their
shared wiring (agreements -> prepare -> deliver -> summarize).

Light at import (``airflow.sdk`` only), so that a DAG file can import it while it is parsed.
"""

from __future__ import annotations

from inkasso.tasks import mapped_task, step


def deliver_task():
    """The mapped ``deliver`` task (pool ``sftp``): every logged, undelivered file of the
    prepared agreement goes out; returns the delivery summary with the prepare's under
    ``prepared``."""

    @mapped_task(
        "SFTP upload (temp name, size check, rename) or manual outbox.",
        task_id="deliver",
        pool="sftp",
    )
    def deliver(prepared: dict) -> dict:
        from inkasso.agreements import load_agreements
        from inkasso.connections import require_agreement_connection
        from inkasso.delivery.deliver import deliver_pending

        run = step(prepared["agreement_id"])
        (agreement,) = load_agreements(run.engine, agreement_id=prepared["agreement_id"])
        require_agreement_connection(agreement)  # missing: fail now, not after 3 retries
        return deliver_pending(run.engine, agreement, run.base, now=run.now()) | {
            "prepared": prepared
        }

    return deliver


def outgoing_flow(found, prepare, summarize):
    """Wire an outgoing flow: ``prepare`` mapped over the agreements ``found``, each result
    delivered, all of them summarized. Returns the summarize task's output."""
    return summarize(deliver_task().expand(prepared=prepare.expand(agreement=found)))
