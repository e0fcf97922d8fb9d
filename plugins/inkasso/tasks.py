"""What the flows' DAG files share: a step's context, the agreements task, the summarize task.

Light at import (``airflow.sdk`` only; the rest is imported when a task runs), so that a DAG
file can import it while it is parsed and stay a few lines of wiring.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from importlib import import_module

from airflow.sdk import get_current_context, task


@dataclass
class Step:
    """A running task: its Airflow context, the run's business day, the ERP and the file base."""

    context: dict

    @cached_property
    def engine(self):
        """The ERP database (the ``erp_db`` connection)."""
        from inkasso.db.engine import erp_engine

        return erp_engine()

    @cached_property
    def base(self):
        """The ``ObjectStoragePath`` of files at rest."""
        from inkasso.runs import files_base

        return files_base()

    @cached_property
    def day(self):
        """The run's ``RunDay`` (business date and cutoff)."""
        from inkasso.runs import run_day

        return run_day(self.context)

    @property
    def run_id(self) -> str:
        """The Airflow run's id."""
        return self.context["run_id"]

    @staticmethod
    def agreement(payload: dict):
        """The ``Agreement`` of an XCom dict (``Agreement.as_dict``)."""
        from inkasso.agreements import Agreement

        return Agreement(**payload)

    @staticmethod
    def now():
        """The time now, in UTC (what goes into file names and logs)."""
        import pendulum

        return pendulum.now("UTC")


def mapped_task(doc: str, **kwargs):
    """``@task`` for a task mapped over agreements (or clients): one XCom value, each mapped
    instance named after its label in the UI (``step``), ``doc`` as its doc."""
    return task(multiple_outputs=False, map_index_template="{{ label }}", doc_md=doc, **kwargs)


def step(name: str) -> Step:
    """The running task, its mapped instance named ``name`` in the UI (``{{ label }}``)."""
    from inkasso.runs import label

    context = get_current_context()
    label(context, name)
    return Step(context)


def step_context() -> Step:
    """The running task (unmapped: no name to set)."""
    return Step(get_current_context())


def agreements_task(modes: tuple[str, ...] | None = None, doc: str | None = None):
    """The ``agreements`` task: the active agreements the run covers (its Params may narrow
    them), with a delivery mode in ``modes`` (None: any), as dicts for the mapped tasks."""

    @task(
        task_id="agreements",
        multiple_outputs=False,
        doc_md=doc or "The active agreements this run covers.",
    )
    def agreements(params: dict | None = None) -> list[dict]:
        from inkasso.agreements import agreements_for_run

        return agreements_for_run(params, modes)

    return agreements


def summarize_task(summary: str, finished: list, *, inlets: list | None = None, per="agreement"):
    """The ``summarize`` task: ``summary`` (``module:function``) logs one line per result and
    returns the totals for XCom; the run's business day is marked finished on the ``finished``
    assets (its outlets)."""

    @task(
        task_id="summarize",
        multiple_outputs=False,
        inlets=inlets or [],
        outlets=finished,
        doc_md=f"One line per {per} in the log; totals for XCom; the day marked finished.",
    )
    def summarize(results: list[dict]) -> dict:
        from inkasso.assets import mark_day_finished

        module, name = summary.split(":")
        log_summary = getattr(import_module(module), name)
        run = step_context()
        mark_day_finished(run.context, run.day.business_date, *finished)
        return log_summary(list(results[:]))  # one slice request, no probing past the end

    return summarize
