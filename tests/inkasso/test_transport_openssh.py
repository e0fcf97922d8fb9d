"""Delivery and fetching through Airflow's SFTPHook against a real OpenSSH sshd on 127.0.0.1.

The set-up installs openssh-server when it is missing and starts sshd with a chrooted, key-only
SFTP account that is a real system user, so file permissions, renames and host-key checks are
OpenSSH's own, not the in-process simulator's. Needs root, as CI has; never skipped.
"""

from __future__ import annotations

import os
import pwd
import uuid

import pytest

from inkasso.transport import (
    ALREADY_DELIVERED,
    DELIVERED,
    TransportError,
    deliver_sftp,
    download,
    list_remote,
    move_remote,
)
from inkasso_demo.simulator.keys import ensure_keypair
from tests.sftp_helpers import at_rest_fixture, connect, key_fixture
from tests.sshd import OpenSshServer

pytestmark = pytest.mark.e2e

CONN_ID = "agency_lowell_openssh"
FAST = {"connect_attempts": 1}  # no 3-5 s sleeps between failing connection attempts
CASE_FILE = b"H;LS;20240105\nD;1001;Ola Nordmann;125000\nD;1002;Kari Nordmann;99950\nT;2;224950\n"


client_key = key_fixture("openssh-keys")
at_rest = at_rest_fixture()


@pytest.fixture
def user():
    """The agency account's name: a system user created for one test and removed after it."""
    return f"lowell{uuid.uuid4().hex[:8]}"


@pytest.fixture
def sshd(user, client_key):
    """A fresh sshd with one chrooted SFTP account."""
    with OpenSshServer(accounts={user: client_key.public_line}) as server:
        yield server


@pytest.fixture
def conn(sshd, user, client_key, monkeypatch):
    """The Airflow connection to the sshd, host key pinned, from the environment."""
    return connect(monkeypatch, CONN_ID, sshd.port, user, client_key, sshd.host_key_line)


@pytest.fixture
def inbox(sshd, user):
    return sshd.home_of(user) / "inbox"


@pytest.fixture
def outbox(sshd, user):
    return sshd.home_of(user) / "outbox"


def _logins(sshd) -> int:
    return sshd.log_text().count("Accepted publickey for ")


def test_case_file_arrives_byte_identical_and_a_second_delivery_changes_nothing(
    user, conn, at_rest, inbox
):
    delivery = at_rest("LS12345_20240105_0600.txt", CASE_FILE)
    [result] = deliver_sftp(conn, [delivery], **FAST)
    assert result.outcome == DELIVERED
    assert result.remote_path == "inbox/LS12345_20240105_0600.txt"
    remote = inbox / "LS12345_20240105_0600.txt"
    assert remote.read_bytes() == CASE_FILE
    assert sorted(p.name for p in inbox.iterdir()) == ["LS12345_20240105_0600.txt"]  # no .part
    assert remote.owner() == user  # written by the agency account, through sshd

    os.utime(remote, ns=(1_000_000_000, 1_000_000_000))  # the agency got it long ago
    [again] = deliver_sftp(conn, [delivery], **FAST)
    assert again.outcome == ALREADY_DELIVERED
    assert remote.stat().st_mtime_ns == 1_000_000_000
    assert remote.read_bytes() == CASE_FILE
    assert sorted(p.name for p in inbox.iterdir()) == ["LS12345_20240105_0600.txt"]


def test_several_files_go_over_one_ssh_login(sshd, conn, at_rest, inbox):
    files = [at_rest(f"LS{i}.txt", CASE_FILE * i) for i in (1, 2, 3)]
    before = _logins(sshd)
    results = deliver_sftp(conn, files, **FAST)
    assert [r.outcome for r in results] == [DELIVERED] * 3
    assert _logins(sshd) - before == 1
    assert [(inbox / f"LS{i}.txt").read_bytes() for i in (1, 2, 3)] == [
        CASE_FILE * i for i in (1, 2, 3)
    ]


def test_stale_part_left_by_a_broken_upload_is_replaced(user, conn, at_rest, inbox):
    stale = inbox / ".LS1.txt.part"
    stale.write_bytes(b"H;LS;2024")  # the connection dropped half way through an upload
    os.chown(stale, *_ids(user))
    [result] = deliver_sftp(conn, [at_rest("LS1.txt", CASE_FILE)], **FAST)
    assert result.outcome == DELIVERED
    assert (inbox / "LS1.txt").read_bytes() == CASE_FILE
    assert sorted(p.name for p in inbox.iterdir()) == ["LS1.txt"]


def test_a_folder_the_account_may_not_write_is_an_error_naming_the_file(conn, at_rest, inbox):
    inbox.chmod(0o555)  # the agency closed its inbox
    with pytest.raises(TransportError) as failure:
        deliver_sftp(conn, [at_rest("LS9.txt", CASE_FILE)], **FAST)
    message = str(failure.value)
    assert CONN_ID in message
    assert "LS9.txt" in message
    assert "Permission denied" in message
    assert list(inbox.iterdir()) == []


def test_list_download_and_move_the_agencys_answers(conn, outbox):
    (outbox / "Kvitt_12345_20240105_0700.txt").write_bytes(b"receipt\r\n")
    (outbox / "Avsl_12345_20240106_0700.txt").write_bytes("lukket ø\r\n".encode("latin-1"))
    (outbox / ".Avsl_12345_20240107_0700.txt.part").write_bytes(b"half")  # agency still writing
    (outbox / "processed" / "Kvitt_12345_20240101_0700.txt").write_bytes(b"old")

    listed = list_remote(conn, "outbox", **FAST)
    assert [(f.name, f.size) for f in listed] == [
        ("Avsl_12345_20240106_0700.txt", 10),
        ("Kvitt_12345_20240105_0700.txt", 9),
    ]
    assert all(f.mtime.tzinfo is not None for f in listed)
    assert ".Avsl_12345_20240107_0700.txt.part" in {
        f.name for f in list_remote(conn, "outbox", include_hidden=True, **FAST)
    }

    got = download(conn, "outbox", [f.name for f in listed], **FAST)
    assert got == {
        "Avsl_12345_20240106_0700.txt": "lukket ø\r\n".encode("latin-1"),
        "Kvitt_12345_20240105_0700.txt": b"receipt\r\n",
    }

    src = "outbox/Kvitt_12345_20240105_0700.txt"
    dst = "outbox/processed/Kvitt_12345_20240105_0700.txt"
    assert move_remote(conn, src, dst, **FAST) is True
    assert (outbox / "processed" / "Kvitt_12345_20240105_0700.txt").read_bytes() == b"receipt\r\n"
    assert not (outbox / "Kvitt_12345_20240105_0700.txt").exists()
    assert move_remote(conn, src, dst, **FAST) is False  # a rerun finds it done
    assert [f.name for f in list_remote(conn, "outbox", **FAST)] == ["Avsl_12345_20240106_0700.txt"]


def test_download_of_a_missing_file_names_it(conn):
    with pytest.raises(TransportError, match="outbox/Kvitt_missing.txt"):
        download(conn, "outbox", ["Kvitt_missing.txt"], **FAST)


def test_wrong_pinned_host_key_is_refused_and_nothing_is_written(
    sshd, user, client_key, at_rest, inbox, monkeypatch, tmp_path
):
    impostor = ensure_keypair(tmp_path / "impostor")
    connect(monkeypatch, CONN_ID, sshd.port, user, client_key, impostor.public_line)
    before = _logins(sshd)
    with pytest.raises(TransportError, match="BadHostKey") as failure:
        deliver_sftp(CONN_ID, [at_rest("LS1.txt", CASE_FILE)], **FAST)
    assert "LS1.txt" in str(failure.value)
    assert list(inbox.iterdir()) == []
    assert _logins(sshd) == before  # the client stopped before authenticating


def test_unknown_client_key_is_refused(sshd, user, at_rest, inbox, monkeypatch, tmp_path):
    stranger = ensure_keypair(tmp_path / "stranger")
    connect(monkeypatch, CONN_ID, sshd.port, user, stranger, sshd.host_key_line)
    with pytest.raises(TransportError, match="Authentication"):
        deliver_sftp(CONN_ID, [at_rest("LS1.txt", CASE_FILE)], **FAST)
    assert list(inbox.iterdir()) == []


def _ids(user: str) -> tuple[int, int]:
    account = pwd.getpwnam(user)
    return account.pw_uid, account.pw_gid
