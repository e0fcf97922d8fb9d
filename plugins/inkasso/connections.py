"""Airflow connections a task needs, checked up front: a missing one fails the task at once.

A connection that is not defined cannot appear between two retries five minutes apart, so
retrying only delays the failure. ``require_connection`` raises ``AirflowFailException`` (no
retry) with the connection's id and what it is for.
"""

from __future__ import annotations


def require_connection(conn_id: str, purpose: str):
    """Return the Airflow connection ``conn_id``; fail the task at once when it is not defined.

    ``purpose`` names what needs it (``"the ERP database"``, ``"SFTP of agreement lowell_no"``)
    so that the message says what to add, and where.
    """
    from airflow.sdk import BaseHook
    from airflow.sdk.exceptions import AirflowFailException, AirflowNotFoundException

    try:
        return BaseHook.get_connection(conn_id)
    except AirflowNotFoundException as exc:
        raise AirflowFailException(
            f"Airflow connection {conn_id!r} ({purpose}) is not defined: add it where every "
            "Airflow component reads it (Admin -> Connections, `airflow connections add`, or the "
            "secrets backend's connections file); a retry cannot fix this"
        ) from exc


def require_agreement_connection(agreement) -> None:
    """For an automated (``sftp``) agreement, fail at once when its SFTP connection is missing.

    ``agreement`` is an object or a dict with ``mode``, ``sftp_conn_id`` and ``agreement_id``.
    Manual-export agreements need no connection.
    """

    def get(name):
        return agreement.get(name) if isinstance(agreement, dict) else getattr(agreement, name)

    if get("mode") != "sftp":
        return
    conn_id = get("sftp_conn_id")
    if not conn_id:
        from airflow.sdk.exceptions import AirflowFailException

        raise AirflowFailException(
            f"agreement {get('agreement_id')!r} is automated (sftp) but has no sftp_conn_id "
            "in ink_agreement"
        )
    require_connection(conn_id, f"SFTP of agreement {get('agreement_id')}")
