"""The in-process agency SFTP server, driven by a real paramiko client."""

from __future__ import annotations

import base64
import io
import json
import time
from pathlib import Path

import paramiko
import pytest

from inkasso_demo.simulator.keys import ensure_keypair, sftp_connection_uri_json
from inkasso_demo.simulator.sftp_server import AgencySftpServer


@pytest.fixture(scope="module")
def client_keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("client-keys")
    return {name: ensure_keypair(folder / name) for name in ("lowell", "intrum", "stranger")}


@pytest.fixture
def uploads():
    return []


@pytest.fixture
def server(tmp_path, client_keys, uploads):
    srv = AgencySftpServer(
        tmp_path / "agency",
        tmp_path / "host_key",
        {"lowell": client_keys["lowell"].public_line, "intrum": client_keys["intrum"].public_line},
        on_upload_closed=lambda user, path: uploads.append((user, path)),
    )
    srv.start()
    yield srv
    srv.stop()


def pinned_client(server: AgencySftpServer) -> paramiko.SSHClient:
    client = paramiko.SSHClient()
    key = paramiko.Ed25519Key(data=base64.b64decode(server.host_key_line.split()[1]))
    client.get_host_keys().add(f"[127.0.0.1]:{server.port}", key.get_name(), key)
    return client


def connect(server: AgencySftpServer, user: str, key_file: Path) -> paramiko.SFTPClient:
    client = pinned_client(server)
    client.connect(
        "127.0.0.1",
        server.port,
        username=user,
        key_filename=str(key_file),
        look_for_keys=False,
        allow_agent=False,
        timeout=5,
    )
    return client.open_sftp()


def test_keypair_is_created_once_and_readable_by_paramiko(tmp_path):
    first = ensure_keypair(tmp_path / "keys" / "id")
    again = ensure_keypair(tmp_path / "keys" / "id")
    assert again == first
    assert first.public_line.startswith("ssh-ed25519 AAAA")
    assert len(first.public_line.split()) == 2
    assert first.public_path.read_text().split() == first.public_line.split()
    assert first.private_path.stat().st_mode & 0o077 == 0
    loaded = paramiko.Ed25519Key.from_private_key_file(str(first.private_path))
    assert loaded.get_base64() == first.public_line.split()[1]


def test_connection_json_has_pinned_host_key_and_no_key_lookup():
    value = json.loads(
        sftp_connection_uri_json("127.0.0.1", 2222, "lowell", Path("/k/id"), "ssh-ed25519 AAAA x")
    )
    assert value == {
        "conn_type": "sftp",
        "host": "127.0.0.1",
        "port": 2222,
        "login": "lowell",
        "extra": {"key_file": "/k/id", "host_key": "ssh-ed25519 AAAA", "look_for_keys": "false"},
    }


def test_each_account_gets_its_folders(server, tmp_path):
    for user in ("lowell", "intrum"):
        for folder in ("inbox", "outbox", "outbox/processed"):
            assert (tmp_path / "agency" / user / folder).is_dir()


def test_upload_rename_and_stat_inside_the_chroot(server, client_keys, tmp_path):
    sftp = connect(server, "lowell", client_keys["lowell"].private_path)
    assert sorted(sftp.listdir("/")) == ["inbox", "outbox"]
    sftp.putfo(io.BytesIO(b"LS case file"), "inbox/.LS1.part")
    sftp.posix_rename("inbox/.LS1.part", "inbox/LS1")
    assert sftp.stat("inbox/LS1").st_size == len(b"LS case file")
    assert (tmp_path / "agency" / "lowell" / "inbox" / "LS1").read_bytes() == b"LS case file"
    sftp.close()


def test_account_cannot_reach_another_accounts_folder(server, client_keys, tmp_path):
    (tmp_path / "agency" / "intrum" / "outbox" / "secret.txt").write_bytes(b"intrum only")
    sftp = connect(server, "lowell", client_keys["lowell"].private_path)
    assert "intrum" not in sftp.listdir("/")
    assert sorted(sftp.listdir("../..")) == ["inbox", "outbox"]  # clamped at the chroot
    for path in ("/intrum/outbox/secret.txt", "../intrum/outbox/secret.txt"):
        with pytest.raises(FileNotFoundError):
            sftp.stat(path)
    sftp.close()


@pytest.mark.parametrize(
    ("user", "key"),
    [("lowell", "stranger"), ("lowell", "intrum"), ("nobody", "stranger")],
)
def test_only_the_accounts_own_key_logs_in(server, client_keys, user, key):
    with pytest.raises(paramiko.AuthenticationException):
        connect(server, user, client_keys[key].private_path)


def test_password_login_is_refused(server):
    client = pinned_client(server)
    with pytest.raises(paramiko.AuthenticationException):
        client.connect(
            "127.0.0.1",
            server.port,
            username="lowell",
            password="secret",
            look_for_keys=False,
            allow_agent=False,
            timeout=5,
        )


def test_finished_uploads_are_reported_with_user_and_path(server, client_keys, uploads, tmp_path):
    sftp = connect(server, "intrum", client_keys["intrum"].private_path)
    sftp.putfo(io.BytesIO(b"x"), "inbox/.f.part")
    sftp.posix_rename("inbox/.f.part", "inbox/f")
    sftp.getfo("inbox/f", io.BytesIO())  # reading is not an upload
    sftp.close()
    inbox = (tmp_path / "agency" / "intrum" / "inbox").resolve()
    deadline = time.monotonic() + 2
    while len(uploads) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert uploads == [("intrum", inbox / ".f.part"), ("intrum", inbox / "f")]


def test_starts_fast_and_restarts_on_the_same_port(tmp_path, client_keys):
    srv = AgencySftpServer(
        tmp_path / "a", tmp_path / "hk", {"lowell": client_keys["lowell"].public_line}
    )
    started = time.monotonic()
    with srv:
        assert time.monotonic() - started < 1.0
        port = srv.port
        assert port > 0
    with pytest.raises(OSError):
        connect(srv, "lowell", client_keys["lowell"].private_path)
    assert srv.start() == port
    try:
        sftp = connect(srv, "lowell", client_keys["lowell"].private_path)
        assert sorted(sftp.listdir(".")) == ["inbox", "outbox"]
        sftp.close()
    finally:
        srv.stop()


def test_host_key_is_kept_across_server_instances(tmp_path, client_keys):
    first = AgencySftpServer(tmp_path / "a", tmp_path / "hk", {})
    second = AgencySftpServer(tmp_path / "a", tmp_path / "hk", {})
    assert first.host_key_line == second.host_key_line
