"""The dispatch flow: marked invoices -> rules -> new-case file -> the agency.

Two steps per agreement and business day, each safe to run again:

``prepare_new_cases`` (``prepare``, streaming through ``run``)
    Selects (``erp``), applies the rules (``rules``, addresses via ``register``), checks the
    frame, writes the file into the outbox (``file``) and - in one database transaction - logs
    the file, opens the cases (``cases``), puts the invoices at collection, writes the history
    events and the holds. If a file for that agreement and day is already logged, it does
    nothing (a rerun never writes a second file). A prepare running beside it waits on the
    agreement's outgoing-file lock (``inkasso.locks``) and then finds the file, so it ends as
    ``exists`` naming the run that prepared the day. A bank import of the client waits on (or
    is waited for by) the client's booking lock, and the cases' ``opened_at`` falls after every
    payment the run could read (``inkasso.stamps``): a direct payment is either taken off the
    amount sent or reported later by the corrections flow. If anything fails, the transaction rolls
    back and the written file is removed: nothing half-done remains. A file left by a hard kill
    before the commit is adopted or removed by the next prepare of that day (``orphans``).

``deliver_pending`` (``inkasso.delivery``)
    Delivers every logged file not yet delivered (of any day), shared with the corrections
    flow: by SFTP or into the manual-export outbox, each file claimed first, a failed file
    retried as the same bytes.

``summary`` logs one line per agreement of a run and returns the totals.
"""

from inkasso.dispatch.prepare import prepare_new_cases
from inkasso.dispatch.summary import log_summary

__all__ = ["log_summary", "prepare_new_cases"]
