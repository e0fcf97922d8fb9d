"""The corrections flow: direct payments, credit notes and recalls on cases at the agency ->
one correction file per agreement -> the agency.

``prepare_corrections`` does, per agreement and in one database transaction:

1. logs the file it is about to write (``ink_file_log`` kind ``corrections``, status ``written``);
2. collects every direct payment (``erp_payment`` kind ``direct``) and every credit note and
   recall (``erp_invoice_adjustment``) on an invoice with an open case of the agreement, dated up
   to the run's business day, booked after the case was sent (``booked_at >= opened_at``, in
   commit order: ``inkasso.stamps``) and not reported yet, into ``ink_correction`` pointing at
   that file (set-based ``INSERT ... SELECT``; the unique ``(source, source_id)`` makes each
   event reported once). Nothing found: the log row goes again and no file is written;
3. writes the corrections with the agency profile's corrections layout and name (Lowell: ``RD``
   + customer number + date + time) into the outbox, completes the log row (checksum, size,
   count, total) and writes one history event per correction (``ink_case_event``).

Before that, money that moved on the agreement's cases after they ended (direct payments,
credit notes, recalls the agency will not hear of) is recorded for a person
(``inkasso.money.after_closure``): over-payments, refunds due and refunds a bank reversal
took back (``refund_cancelled``) appear in the day's mail.

Two runs of one agreement at once (overlapping runs, a backfill) take turns on the agreement's
outgoing-file lock (``inkasso.locks``): the second finds the events reported by the first and
ends with ``nothing_to_report``. If anything fails, the transaction rolls back and the file is
removed: the events are collected again by the next run. Delivery is ``inkasso.delivery``
(SFTP or the manual outbox), shared with dispatch, which sends every written, undelivered file
of the agreement, so a file that could not go out is delivered by the retry as the same file. A recall closes nothing here: the agency's closure does.

One module each: ``collect`` (the unreported events into ``ink_correction``), ``prepare`` (the
file, its log row and the history events, in one transaction), ``summary`` (the run's log
lines and totals).
"""

from inkasso.corrections.prepare import prepare_corrections
from inkasso.corrections.summary import log_summary

__all__ = ["log_summary", "prepare_corrections"]
