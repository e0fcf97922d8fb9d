"""Faults on the SFTP transfer itself, against the in-process asyncssh server: the connection lost
at each step (upload, read-back, rename, download), a server without the OpenSSH rename extension,
and another file of the same size under the final name. Each test says what the agency holds
afterwards: the file once, with its bytes, under its final name, or nothing of ours at all."""

from __future__ import annotations

import hashlib

import asyncssh
import pytest
from airflow.sdk import ObjectStoragePath

from inkasso.transport import (
    ALREADY_DELIVERED,
    DELIVERED,
    RemoteMismatchError,
    TransportError,
    deliver_manual,
    deliver_sftp,
    download,
    move_remote,
)
from inkasso_demo.simulator import sftp_server
from inkasso_demo.simulator.keys import ensure_keypair
from tests.sftp_helpers import connect, put_at_rest, simulator_fixtures

CONN_ID = "agency_faults"
FAST = {"connect_attempts": 1}
CASE_FILE = b"H;LS;20261102\n" + b"D;1001;Ola Nordmann;125000\n" * 2000 + b"T;2000;250000000\n"
Server = sftp_server._ChrootSftp


client_key, server, conn, inbox, outbox, at_rest = simulator_fixtures(CONN_ID)


@pytest.fixture
def delivery(tmp_path):
    return put_at_rest(tmp_path, "LS40012_20261102050000.txt", CASE_FILE, agreement_id="lowell_no")


def cut_connection(sftp: Server) -> None:
    """The agency's end drops the TCP connection, as a lost network does."""
    sftp.connection.abort()


def lose_once(monkeypatch, method: str, *, after: bool, when=lambda *a: True):
    """Patch the server's ``method`` to drop the connection once (before or after doing it)."""
    original = getattr(Server, method)
    state = {"done": False}

    def faulty(self, *args):
        if state["done"] or not when(*args):
            return original(self, *args)
        state["done"] = True
        if after:
            result = original(self, *args)
            cut_connection(self)
            return result
        cut_connection(self)
        raise asyncssh.SFTPConnectionLost("cut by the test")

    monkeypatch.setattr(Server, method, faulty)
    return state


def names(folder):
    return sorted(p.name for p in folder.iterdir())


STEPS = {
    # mid-upload: the first block written to .part
    "upload": ("write", False, lambda *a: True),
    # after the upload, while the .part is read back for its checksum
    "read_back": ("read", False, lambda *a: True),
    # the rename requested and never done
    "before_rename": ("posix_rename", False, lambda *a: True),
    # the rename done on the server, its answer lost: the retry must not send it twice
    "after_rename": ("posix_rename", True, lambda *a: True),
}


@pytest.mark.parametrize("step", sorted(STEPS))
def test_connection_lost_at_each_delivery_step_then_a_retry_delivers_once(
    step, conn, delivery, inbox, monkeypatch
):
    method, after, when = STEPS[step]
    state = lose_once(monkeypatch, method, after=after, when=when)

    with pytest.raises(TransportError) as failure:
        deliver_sftp(conn, [delivery], **FAST)

    assert state["done"]
    assert CONN_ID in str(failure.value)
    final = inbox / delivery.remote_name
    if step == "after_rename":
        assert final.read_bytes() == CASE_FILE
    else:
        assert not final.exists()  # nothing half-written under the name the agency reads

    [result] = deliver_sftp(conn, [delivery], **FAST)

    assert result.outcome == (ALREADY_DELIVERED if step == "after_rename" else DELIVERED)
    assert final.read_bytes() == CASE_FILE
    assert names(inbox) == [delivery.remote_name]


def test_connection_lost_mid_download_then_a_retry_reads_the_whole_file(conn, server, monkeypatch):
    outbox = server.home_of("lowell") / "outbox"
    (outbox / "Avsl_40012_20261110053000.txt").write_bytes(CASE_FILE)
    lose_once(monkeypatch, "read", after=False)

    with pytest.raises(TransportError, match="Avsl_40012_20261110053000.txt"):
        download(conn, "outbox", ["Avsl_40012_20261110053000.txt"], **FAST)

    got = download(conn, "outbox", ["Avsl_40012_20261110053000.txt"], **FAST)
    assert got == {"Avsl_40012_20261110053000.txt": CASE_FILE}
    # a download never moves nor changes it
    assert (outbox / "Avsl_40012_20261110053000.txt").read_bytes() == CASE_FILE


def test_same_size_other_bytes_under_the_final_name_is_never_called_delivered(
    conn, delivery, inbox
):
    other = CASE_FILE.replace(b"Ola Nordmann", b"Kari Nordman")
    assert len(other) == len(CASE_FILE)
    (inbox / delivery.remote_name).write_bytes(other)

    with pytest.raises(RemoteMismatchError) as failure:
        deliver_sftp(conn, [delivery], **FAST)

    message = str(failure.value)
    assert "lowell_no" in message and delivery.remote_name in message
    assert delivery.sha256 in message and hashlib.sha256(other).hexdigest() in message
    assert (inbox / delivery.remote_name).read_bytes() == other
    assert names(inbox) == [delivery.remote_name]


def test_a_server_without_posix_rename_gets_a_plain_rename(conn, delivery, inbox, monkeypatch):
    def unsupported(self, oldpath, newpath):
        raise asyncssh.SFTPOpUnsupported("posix-rename@openssh.com not supported")

    monkeypatch.setattr(Server, "posix_rename", unsupported)

    [result] = deliver_sftp(conn, [delivery], **FAST)

    assert result.outcome == DELIVERED
    assert names(inbox) == [delivery.remote_name]
    assert (inbox / delivery.remote_name).read_bytes() == CASE_FILE
    (inbox / "processed").mkdir()
    assert move_remote(conn, f"inbox/{delivery.remote_name}", "inbox/processed/x.txt", **FAST)
    assert (inbox / "processed" / "x.txt").read_bytes() == CASE_FILE


def test_manual_export_compares_bytes_not_size(tmp_path, delivery):
    outbox = ObjectStoragePath(f"file://{tmp_path}/manual")
    outbox.mkdir(parents=True)
    other = CASE_FILE.replace(b"Ola Nordmann", b"Kari Nordman")
    (outbox / delivery.remote_name).write_bytes(other)

    with pytest.raises(RemoteMismatchError, match=hashlib.sha256(other).hexdigest()):
        deliver_manual(delivery.source, outbox)

    assert (outbox / delivery.remote_name).read_bytes() == other


def test_a_host_key_mismatch_fetches_nothing_and_sends_nothing(
    server, client_key, delivery, inbox, tmp_path, monkeypatch
):
    from inkasso.transport import list_remote

    impostor = ensure_keypair(tmp_path / "impostor")  # the key pinned is not the server's
    connect(monkeypatch, CONN_ID, server.port, "lowell", client_key, impostor.public_line)
    outbox = server.home_of("lowell") / "outbox"
    (outbox / "Kvitt_40012_20261110053000.txt").write_bytes(b"receipt")

    for attempt in (
        lambda: list_remote(CONN_ID, "outbox", **FAST),
        lambda: download(CONN_ID, "outbox", ["Kvitt_40012_20261110053000.txt"], **FAST),
        lambda: deliver_sftp(CONN_ID, [delivery], **FAST),
    ):
        with pytest.raises(TransportError, match="BadHostKey"):
            attempt()

    assert list(inbox.iterdir()) == []
    assert (outbox / "Kvitt_40012_20261110053000.txt").read_bytes() == b"receipt"
