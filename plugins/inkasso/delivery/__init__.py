"""Delivery: the one place where a logged outgoing file reaches its agency.

Both outgoing flows (``inkasso.dispatch``: new-case files, ``inkasso.corrections``: correction
files) log their file in ``ink_file_log`` as ``written`` and leave it in the outbox; delivery
takes it from there. One module each: ``outbox`` (a free file name, the file logged, never
overwritten), ``claims`` (one deliverer per file), ``deliver`` (check the bytes at rest, SFTP or
the manual-export outbox, record it once), ``summary`` (the run's log lines) and ``tasks`` (the
DAGs' shared ``deliver`` task and wiring). The SFTP transfer itself is ``inkasso.transport``.

Import from the modules (``inkasso.delivery.deliver`` ...): this package stays light, so that a
DAG file can import ``inkasso.delivery.tasks`` while it is parsed.
"""
