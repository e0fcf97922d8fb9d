"""Shared set-up of the SFTP transport tests (not a test module): a client key, the agency's
in-process SFTP server, the Airflow connection to a server, and files at rest to deliver.

``simulator_fixtures(conn_id)`` returns the pytest fixtures ``client_key``, ``server``, ``conn``,
``inbox``, ``outbox`` and ``at_rest`` for the in-process simulator; a test module binds them to
module names (pytest finds fixtures among a module's names). The real-OpenSSH tests build their
own server fixture from ``tests/sshd.py`` and share ``connect`` and ``at_rest_fixture``.
"""

from __future__ import annotations

import hashlib

import pytest
from airflow.sdk import ObjectStoragePath

from inkasso.transport import Delivery
from inkasso_demo.simulator.keys import ensure_keypair, sftp_connection_uri_json
from inkasso_demo.simulator.sftp_server import AgencySftpServer

USER = "lowell"


def connect(monkeypatch, conn_id: str, port: int, user: str, key, host_key_line: str) -> str:
    """Point the Airflow connection ``conn_id`` (from the environment) at 127.0.0.1:``port``,
    logging in as ``user`` with ``key``, the server's host key pinned; returns ``conn_id``."""
    value = sftp_connection_uri_json("127.0.0.1", port, user, key.private_path, host_key_line)
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", value)
    return conn_id


def put_at_rest(folder, name: str, data: bytes, **extra) -> Delivery:
    """Write ``data`` at rest (file:// ObjectStoragePath under ``folder/outbox``) and describe its
    delivery to ``inbox/`` (``extra``: further ``Delivery`` fields, e.g. agreement_id)."""
    path = ObjectStoragePath(f"file://{folder}/outbox/{name}")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return Delivery(path, "inbox", name, len(data), hashlib.sha256(data).hexdigest(), **extra)


def key_fixture(folder: str = "keys"):
    """A module-scoped fixture ``client_key``: the agency account's key pair."""

    @pytest.fixture(scope="module")
    def client_key(tmp_path_factory):
        return ensure_keypair(tmp_path_factory.mktemp(folder) / USER)

    return client_key


def at_rest_fixture():
    """A fixture ``at_rest``: ``at_rest(name, data)`` writes a file at rest, gives its Delivery."""

    @pytest.fixture
    def at_rest(tmp_path):
        return lambda name, data: put_at_rest(tmp_path, name, data)

    return at_rest


def simulator_fixtures(conn_id: str):
    """The fixtures (client_key, server, conn, inbox, outbox, at_rest) of the in-process server
    with one account, ``lowell``, whose connection is ``conn_id``."""

    @pytest.fixture
    def server(tmp_path, client_key):
        srv = AgencySftpServer(
            tmp_path / "agency", tmp_path / "host_key", {USER: client_key.public_line}
        )
        srv.start()
        yield srv
        srv.stop()

    @pytest.fixture
    def conn(server, client_key, monkeypatch):
        """The Airflow connection to the server, host key pinned, from the environment."""
        return connect(monkeypatch, conn_id, server.port, USER, client_key, server.host_key_line)

    @pytest.fixture
    def inbox(server):
        return server.home_of(USER) / "inbox"

    @pytest.fixture
    def outbox(server):
        return server.home_of(USER) / "outbox"

    return key_fixture(), server, conn, inbox, outbox, at_rest_fixture()
