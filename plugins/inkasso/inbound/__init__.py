"""inkasso_inbound: receipts and closure files from the agencies, validated and applied exactly once.

Steps, one module each: ``fetch`` (list the agreement's source - the agency's SFTP outbox or
the manual inbox, see ``sources`` - read new files, archive the original bytes, log them),
``validate`` (format engine, Great Expectations suite, domain checks naming line and field),
``apply`` (one transaction per file, set-based SQL), ``process`` (the per-agreement run over the
archive: apply or quarantine), ``tidy`` (move applied files to the source's processed folder).
The agreements are ``inkasso.agreements``, shared with the outgoing flows. The demo's printout of a day lives in ``inkasso_demo.views.inbound``.
"""

from inkasso.inbound.fetch import fetch_new_files
from inkasso.inbound.process import log_summary, process_received
from inkasso.inbound.tidy import move_applied
from inkasso.inbound.validate import Issue

__all__ = [
    "Issue",
    "fetch_new_files",
    "log_summary",
    "move_applied",
    "process_received",
]
