"""Delivery to the agency through Airflow's SFTPHook against the in-process SFTP server."""

from __future__ import annotations

import os
import socket

import pytest
from airflow.sdk import ObjectStoragePath

from inkasso import transport
from inkasso.transport import (
    ALREADY_DELIVERED,
    DELIVERED,
    Delivery,
    TransportError,
    deliver_manual,
    deliver_sftp,
    download,
    list_remote,
    move_remote,
)
from inkasso_demo.simulator.keys import ensure_keypair
from tests.sftp_helpers import connect, simulator_fixtures

CONN_ID = "agency_lowell"
FAST = {"connect_attempts": 1}  # no 3-5 s sleeps between failing connection attempts


client_key, server, conn, inbox, outbox, at_rest = simulator_fixtures(CONN_ID)


CASE_FILE = b"H;LS;20240105\nD;1001;Ola Nordmann;125000\nT;1;125000\n"


def test_file_arrives_with_identical_bytes_under_its_final_name(conn, at_rest, inbox):
    delivery = at_rest("LS12345_20240105_0600.txt", CASE_FILE)
    [result] = deliver_sftp(conn, [delivery], **FAST)
    assert result.outcome == DELIVERED
    assert result.remote_path == "inbox/LS12345_20240105_0600.txt"
    assert (inbox / "LS12345_20240105_0600.txt").read_bytes() == CASE_FILE
    assert sorted(p.name for p in inbox.iterdir()) == ["LS12345_20240105_0600.txt"]


def test_several_files_go_over_one_connection(conn, at_rest, inbox, server):
    files = [at_rest(f"LS{i}.txt", CASE_FILE * i) for i in (1, 2, 3)]
    before = server.connections_accepted
    results = deliver_sftp(conn, files, **FAST)
    assert server.connections_accepted - before == 1
    assert [r.outcome for r in results] == [DELIVERED] * 3
    assert [(inbox / f"LS{i}.txt").read_bytes() for i in (1, 2, 3)] == [
        CASE_FILE * i for i in (1, 2, 3)
    ]


def test_second_delivery_is_reported_and_leaves_the_remote_file_untouched(conn, at_rest, inbox):
    delivery = at_rest("LS1.txt", CASE_FILE)
    deliver_sftp(conn, [delivery], **FAST)
    remote = inbox / "LS1.txt"
    os.utime(remote, ns=(1_000_000_000, 1_000_000_000))  # the agency got it long ago
    [again] = deliver_sftp(conn, [delivery], **FAST)
    assert again.outcome == ALREADY_DELIVERED
    assert remote.stat().st_mtime_ns == 1_000_000_000
    assert remote.read_bytes() == CASE_FILE
    assert sorted(p.name for p in inbox.iterdir()) == ["LS1.txt"]


def test_stale_part_from_a_broken_attempt_is_replaced(conn, at_rest, inbox):
    (inbox / ".LS1.txt.part").write_bytes(b"H;LS;2024")  # crash half way through an upload
    [result] = deliver_sftp(conn, [at_rest("LS1.txt", CASE_FILE)], **FAST)
    assert result.outcome == DELIVERED
    assert (inbox / "LS1.txt").read_bytes() == CASE_FILE
    assert sorted(p.name for p in inbox.iterdir()) == ["LS1.txt"]


def test_server_down_names_connection_and_file_and_retry_delivers(conn, at_rest, inbox, server):
    delivery = at_rest("LS7.txt", CASE_FILE)
    server.stop()
    with pytest.raises(TransportError) as failure:
        deliver_sftp(conn, [delivery], **FAST)
    message = str(failure.value)
    assert CONN_ID in message
    assert f"127.0.0.1:{server.port}" in message
    assert "LS7.txt" in message
    server.start()
    [result] = deliver_sftp(conn, [delivery], **FAST)
    assert result.outcome == DELIVERED
    assert (inbox / "LS7.txt").read_bytes() == CASE_FILE


def test_a_server_down_at_the_first_attempt_is_reached_at_the_next(
    conn, at_rest, inbox, server, monkeypatch
):
    delivery = at_rest("LS8.txt", CASE_FILE)
    server.stop()
    waits = []

    def wait(seconds):  # the agency's server comes back while we wait between attempts
        waits.append(seconds)
        server.start()

    monkeypatch.setattr(transport.time, "sleep", wait)
    [result] = deliver_sftp(conn, [delivery], connect_attempts=2)
    assert result.outcome == DELIVERED
    assert (inbox / "LS8.txt").read_bytes() == CASE_FILE
    assert len(waits) == 1 and 3 <= waits[0] <= 5


def test_the_connection_sends_without_waiting_for_the_servers_acks(conn):
    # with Nagle's algorithm on, each SSH handshake waited for delayed ACKs: about 90 ms a
    # connection to the demo's agency instead of 7 ms, and a demo day opens about 30
    with transport._sftp(conn, "test", 1) as (client, _):
        sock = client.get_channel().get_transport().sock
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)


def test_wrong_pinned_host_key_is_refused_and_nothing_is_written(
    server, client_key, at_rest, inbox, monkeypatch, tmp_path
):
    impostor = ensure_keypair(tmp_path / "impostor")
    connect(monkeypatch, CONN_ID, server.port, "lowell", client_key, impostor.public_line)
    with pytest.raises(TransportError, match="BadHostKey") as failure:
        deliver_sftp(CONN_ID, [at_rest("LS1.txt", CASE_FILE)], **FAST)
    assert "LS1.txt" in str(failure.value)
    assert list(inbox.iterdir()) == []


def test_unknown_client_key_is_refused(server, at_rest, inbox, monkeypatch, tmp_path):
    stranger = ensure_keypair(tmp_path / "stranger")
    connect(monkeypatch, CONN_ID, server.port, "lowell", stranger, server.host_key_line)
    with pytest.raises(TransportError, match="Authentication"):
        deliver_sftp(CONN_ID, [at_rest("LS1.txt", CASE_FILE)], **FAST)
    assert list(inbox.iterdir()) == []


def test_missing_connection_is_a_transport_error(at_rest):
    with pytest.raises(TransportError, match="no_such_agency"):
        deliver_sftp("no_such_agency", [at_rest("LS1.txt", CASE_FILE)], **FAST)


def test_a_different_file_under_the_same_name_is_never_overwritten(conn, at_rest, inbox):
    (inbox / "LS1.txt").write_bytes(b"something else the agency has")
    with pytest.raises(TransportError, match="refusing to overwrite"):
        deliver_sftp(conn, [at_rest("LS1.txt", CASE_FILE)], **FAST)
    assert (inbox / "LS1.txt").read_bytes() == b"something else the agency has"


def test_a_file_at_rest_changed_since_written_is_not_sent(conn, at_rest, inbox):
    delivery = at_rest("LS1.txt", CASE_FILE)
    delivery.source.write_bytes(CASE_FILE.replace(b"125000", b"999999"))
    with pytest.raises(TransportError, match="changed since it was written"):
        deliver_sftp(conn, [delivery], **FAST)
    assert list(inbox.iterdir()) == []


def test_missing_remote_folder_is_named(conn, at_rest):
    delivery = at_rest("LS1.txt", CASE_FILE)
    moved = Delivery(delivery.source, "nope", "LS1.txt", delivery.size, delivery.sha256)
    with pytest.raises(TransportError, match="'nope' does not exist"):
        deliver_sftp(conn, [moved], **FAST)


def test_list_download_and_move_the_agencys_answers(conn, outbox):
    (outbox / "Kvitt_12345_20240105.txt").write_bytes(b"receipt")
    (outbox / "Avsl_12345_20240106.txt").write_bytes(b"closure!")
    (outbox / ".Avsl_12345_20240107.txt.part").write_bytes(b"half")  # agency still writing

    listed = list_remote(conn, "outbox", **FAST)
    assert [(f.name, f.size) for f in listed] == [
        ("Avsl_12345_20240106.txt", 8),
        ("Kvitt_12345_20240105.txt", 7),
    ]
    assert all(f.mtime.tzinfo is not None for f in listed)
    assert ".Avsl_12345_20240107.txt.part" in {
        f.name for f in list_remote(conn, "outbox", include_hidden=True, **FAST)
    }

    got = download(conn, "outbox", [f.name for f in listed], **FAST)
    assert got == {"Avsl_12345_20240106.txt": b"closure!", "Kvitt_12345_20240105.txt": b"receipt"}

    src, dst = "outbox/Kvitt_12345_20240105.txt", "outbox/processed/Kvitt_12345_20240105.txt"
    assert move_remote(conn, src, dst, **FAST) is True
    assert (outbox / "processed" / "Kvitt_12345_20240105.txt").read_bytes() == b"receipt"
    assert move_remote(conn, src, dst, **FAST) is False  # a rerun finds it done
    with pytest.raises(TransportError, match="does not exist"):
        move_remote(conn, "outbox/gone.txt", "outbox/processed/gone.txt", **FAST)


def test_download_of_a_missing_file_names_it(conn):
    with pytest.raises(TransportError, match="outbox/Kvitt_missing.txt"):
        download(conn, "outbox", ["Kvitt_missing.txt"], **FAST)


def test_manual_export_copies_once(tmp_path):
    source = ObjectStoragePath(f"file://{tmp_path}/rest/LS_intrum.txt")
    source.parent.mkdir(parents=True, exist_ok=True)
    source.write_bytes(CASE_FILE)
    outbox = ObjectStoragePath(f"file://{tmp_path}/manual-export/intrum")

    dest = deliver_manual(source, outbox)
    assert dest.read_bytes() == CASE_FILE
    assert [p.name for p in outbox.iterdir()] == ["LS_intrum.txt"]

    local = tmp_path / "manual-export" / "intrum" / "LS_intrum.txt"
    os.utime(local, ns=(1_000_000_000, 1_000_000_000))
    assert deliver_manual(source, outbox) == dest
    assert local.stat().st_mtime_ns == 1_000_000_000

    local.write_bytes(b"edited by hand")
    with pytest.raises(TransportError, match="refusing to overwrite"):
        deliver_manual(source, outbox)


def test_a_file_moved_away_after_the_listing_is_left_out_only_when_asked(conn, outbox):
    """Two inbound runs: one lists the outbox, the other applies and moves a file away before
    the first downloads it. The first leaves it out; a plain download still fails loudly."""
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "Kvitt_1.txt").write_bytes(b"one\r\n")
    names = [f.name for f in list_remote(conn, "outbox")] + ["Kvitt_gone.txt"]
    got = download(conn, "outbox", names, missing_ok=True, **FAST)
    assert got == {"Kvitt_1.txt": b"one\r\n"}
    with pytest.raises(TransportError, match="Kvitt_gone.txt"):
        download(conn, "outbox", names, **FAST)
