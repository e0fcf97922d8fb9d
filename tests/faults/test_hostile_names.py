"""Hostile names in the agency's outbox (path traversal, a newline, a very long name, a name that
only starts like an answer): never downloaded, never archived, nothing written outside the
archive; the real answers beside them are applied as usual."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from tests.db_helpers import query_rows as rows

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 6, tzinfo=UTC)
DEMO_CUSTOMERS = 150
AGREEMENT = "lowell_no"


@pytest.fixture
def answered(agency, demo_erp, tmp_path):
    """Cases sent to Lowell and answered by the agency robot; the base of files at rest."""
    from airflow.sdk import ObjectStoragePath

    from inkasso.agreements import load_agreements
    from inkasso.delivery.deliver import deliver_pending
    from inkasso.dispatch import prepare_new_cases
    from inkasso_demo.simulator.agency_robot import answer_day

    base = ObjectStoragePath(f"file://{tmp_path}/files")
    (agreement,) = load_agreements(demo_erp, agreement_id=AGREEMENT)
    prepare_new_cases(demo_erp, agreement, DAY, datetime(2026, 11, 2, 4, tzinfo=UTC), base, now=NOW)
    deliver_pending(demo_erp, agreement, base, now=NOW)
    answer_day(agency.root, load_agreements(demo_erp), DAY, 11)
    return base, agreement


def test_hostile_names_are_never_fetched(answered, agency, demo_erp, tmp_path, monkeypatch):
    import inkasso.transport
    from inkasso.agreements import load_agreements
    from inkasso.inbound import fetch_new_files
    from inkasso.transport import RemoteFile

    base, agreement = answered
    customer = agreement.customer_no_at_agency
    outbox = agency.root / AGREEMENT / "Outbound"
    answers = sorted(p.name for p in outbox.iterdir() if p.is_file())
    assert answers
    stamp = "20261102070000"
    on_disk = [
        f"Kvitt_{customer}_{stamp}.txt\nAvsl_{customer}_{stamp}.txt",  # a newline in the name
        f"Kvitt_{customer}_{'9' * 230}.txt",  # very long
        f"Kvitt_{customer}_{stamp}.txt.exe",
        f"Kvitt_{customer}_{stamp}.txt ",
    ]
    for name in on_disk:
        (outbox / name).write_bytes(b"H hostile\n")
    # names no file system would hold, as a hostile or broken server may list them
    listed_only = [
        f"../Kvitt_{customer}_{stamp}.txt",
        f"../../../etc/Kvitt_{customer}_{stamp}.txt",
        f"Kvitt_{customer}_{stamp}.txt/../../x",
        f"/tmp/Kvitt_{customer}_{stamp}.txt",
    ]
    real_list = inkasso.transport.list_remote
    downloads: list[str] = []
    real_download = inkasso.transport.download

    def listing(*args, **kwargs):
        found = real_list(*args, **kwargs)
        return found + [RemoteFile(n, 10, NOW) for n in listed_only]

    def recording(conn_id, remote_dir, names, **kwargs):
        names = list(names)
        downloads.extend(names)
        return real_download(conn_id, remote_dir, names, **kwargs)

    monkeypatch.setattr(inkasso.transport, "list_remote", listing)
    monkeypatch.setattr(inkasso.transport, "download", recording)
    (inbound,) = load_agreements(demo_erp, agreement_id=AGREEMENT)

    fetched = fetch_new_files(demo_erp, inbound, base, DAY, now=NOW)

    assert sorted(fetched["received"]) == answers
    assert sorted(downloads) == answers
    logged = rows(demo_erp, "SELECT file_name FROM ink_file_log WHERE direction = 'in'")
    assert sorted(n for (n,) in logged) == answers
    archived = sorted(p.name for p in (tmp_path / "files" / "inbound").rglob("*") if p.is_file())
    assert archived == answers
    for name in on_disk:  # left where they are, for a person to look at
        assert (outbox / name).read_bytes() == b"H hostile\n"
    assert not (tmp_path / "files" / "x").exists()
    assert not list(tmp_path.glob("**/etc/Kvitt_*"))
