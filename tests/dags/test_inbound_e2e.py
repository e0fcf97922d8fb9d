"""inkasso_inbound end to end: dispatch sends cases, the agency robot answers over the in-process
SFTP server (and a real OpenSSH sshd), inbound applies - real Airflow runs on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import update

from conftest import frame

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 2)
OSLO = "Europe/Oslo"
DEMO_CUSTOMERS = 300  # the demo_erp fixture's size for this module
STATE_TABLES = ("ink_file_log", "ink_file_issue", "ink_case", "ink_case_event")


@pytest.fixture(scope="module")
def dags(load_dag):
    return {"dispatch": load_dag("inkasso_dispatch"), "inbound": load_dag("inkasso_inbound")}


def run(dag, day, hour):
    import pendulum

    return dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, hour, tz=OSLO))


def snapshot(engine):
    return {t: frame(engine, f"SELECT * FROM {t} ORDER BY 1") for t in STATE_TABLES} | {
        "erp_invoice": frame(engine, "SELECT * FROM erp_invoice ORDER BY invoice_id"),
        "erp_journal_line": frame(engine, "SELECT * FROM erp_journal_line ORDER BY line_id"),
    }


def assert_same(before, after):
    for table, rows in before.items():
        pd.testing.assert_frame_equal(after[table], rows, check_dtype=False, obj=table)


def answer(agency, engine, day, seed=11):
    from inkasso.agreements import load_agreements
    from inkasso_demo.simulator.agency_robot import answer_day

    return answer_day(agency.root, load_agreements(engine), day, seed)


def only(engine, agreement_id):
    from inkasso.db.schema import ink_agreement

    with engine.begin() as conn:
        conn.execute(
            update(ink_agreement)
            .where(ink_agreement.c.agreement_id != agreement_id)
            .values(active=False)
        )


def test_cases_go_through_their_whole_life_and_reruns_change_nothing(
    airflow_db, demo_erp, agency, files_base, dags
):
    assert run(dags["dispatch"], DAY, 5).state == "success"
    answer(agency, demo_erp, DAY)
    assert run(dags["inbound"], DAY, 6).state == "success"

    cases = frame(demo_erp, "SELECT * FROM ink_case k JOIN ink_agreement a USING (agreement_id)")
    sftp = cases[cases["mode"] == "sftp"]
    assert set(sftp["status"]) == {"registered", "rejected"}, "every receipt applied on day 1"
    assert sftp.loc[sftp["status"] == "registered", "agency_case_ref"].notna().all()
    rejected = frame(
        demo_erp,
        "SELECT k.rejection_reason, k.is_open, i.status, i.marked_for_collection FROM ink_case k "
        "JOIN erp_invoice i ON i.invoice_id = k.invoice_id WHERE k.status = 'rejected'",
    )
    assert len(rejected) >= 1
    assert rejected["rejection_reason"].str.match(r"^R0\d: ").all()
    assert set(rejected["status"]) == {"open"} and not rejected["marked_for_collection"].any()
    assert not rejected["is_open"].astype(bool).any()
    events = frame(demo_erp, "SELECT kind, COUNT(*) AS n FROM ink_case_event GROUP BY kind")
    kinds = dict(zip(events["kind"], events["n"], strict=True))
    assert kinds["registered"] + kinds["rejected"] == len(sftp)

    # the agency answers every day; inbound runs now and then and catches up with all files
    for offset in range(1, 23):
        answer(agency, demo_erp, DAY + timedelta(days=offset))
        if offset in (5, 22):
            assert run(dags["inbound"], DAY + timedelta(days=offset), 6).state == "success"
    after = frame(
        demo_erp,
        "SELECT status, is_open FROM ink_case k JOIN ink_agreement a "
        "USING (agreement_id) WHERE a.mode = 'sftp'",
    )
    assert {"paid", "closed", "recalled", "uncollectible", "rejected"} <= set(after["status"])
    assert not after["is_open"].astype(bool).any(), "after three weeks every case is closed"
    partly = frame(demo_erp, "SELECT COUNT(*) AS n FROM ink_case_event WHERE kind='partly_paid'")
    assert partly["n"][0] >= 1
    files = frame(demo_erp, "SELECT * FROM ink_file_log WHERE direction = 'in'")
    assert set(files["status"]) == {"applied"}
    assert not files.duplicated(["agreement_id", "file_name"]).any()
    # applied files left the outbox for the processed folder where the profile has one
    for f in files.to_dict("records"):
        assert (agency.root / f["agreement_id"] / f["remote_path"].lstrip("/")).is_file()
    svea = files[files["agreement_id"] == "svea"]
    assert svea["remote_path"].str.startswith("/outbox/").all(), "Svea cleans up itself"

    # rerun of the last day and a backfill of an earlier day: nothing changes
    before = snapshot(demo_erp)
    assert run(dags["inbound"], DAY + timedelta(days=22), 6).state == "success"
    agency.stop()  # a backfill works from the archive, never from the agency's server
    assert run(dags["inbound"], DAY + timedelta(days=5), 6).state == "success"
    assert_same(before, snapshot(demo_erp))


def test_duplicate_delivery_is_applied_once_and_changed_bytes_are_flagged(
    airflow_db, demo_erp, agency, files_base, dags
):
    only(demo_erp, "lowell_no")
    assert run(dags["dispatch"], DAY, 5).state == "success"
    (done,) = answer(agency, demo_erp, DAY)
    assert run(dags["inbound"], DAY, 6).state == "success"
    home = agency.root / "lowell_no"
    receipt = done["receipts"][0]
    processed = home / "Outbound" / "Processed" / receipt
    assert processed.is_file() and not (home / "Outbound" / receipt).exists()
    before = snapshot(demo_erp)

    shutil.copy(processed, home / "Outbound" / receipt)  # the agency delivers it again
    day2 = DAY + timedelta(days=1)
    assert run(dags["inbound"], day2, 6).state == "success"
    assert_same(before, snapshot(demo_erp))
    assert not (home / "Outbound" / receipt).exists(), "the duplicate is tidied away"

    lines = processed.read_bytes().split(b"\r\n")
    lines[1] = lines[1][:40] + b"X" + lines[1][41:]  # one byte of a reason text / padding
    changed = b"\r\n".join(lines)
    (home / "Outbound" / receipt).write_bytes(changed)
    assert run(dags["inbound"], day2, 6).state == "success"
    flagged = frame(
        demo_erp,
        "SELECT f.status, i.reason FROM ink_file_log f JOIN ink_file_issue i USING (file_id) "
        "WHERE f.file_name = :n",
        n=receipt,
    )
    assert list(flagged["status"]) == ["flagged"]
    assert "already applied with other contents" in flagged["reason"][0]
    applied = frame(
        demo_erp,
        "SELECT COUNT(*) AS n FROM ink_file_log WHERE file_name = :n AND status = 'applied'",
        n=receipt,
    )
    assert applied["n"][0] == 1
    assert (home / "Outbound" / receipt).is_file(), "a flagged file stays for a person"
    assert_same(
        {k: v for k, v in before.items() if k not in ("ink_file_log", "ink_file_issue")},
        snapshot(demo_erp),
    )


def test_settlement_on_closure_books_interim_against_receivables_once(
    airflow_db, demo_erp, agency, files_base, dags
):
    from inkasso.db.schema import ink_agreement

    only(demo_erp, "creno")
    with demo_erp.begin() as conn:
        conn.execute(
            update(ink_agreement).values(booking_mode="settlement", interim_account="1685")
        )
    assert run(dags["dispatch"], DAY, 5).state == "success"
    for offset in range(0, 23):
        answer(agency, demo_erp, DAY + timedelta(days=offset))
    assert run(dags["inbound"], DAY + timedelta(days=22), 6).state == "success"
    journal = frame(demo_erp, "SELECT * FROM erp_journal_line")
    collected = int(frame(demo_erp, "SELECT SUM(collected_amount) AS s FROM ink_case")["s"][0])
    assert collected > 0
    by_account = journal.groupby("account")[["debit", "credit"]].sum()
    assert int(by_account.loc["1685", "debit"]) == collected
    assert int(by_account.loc["1500", "credit"]) == collected
    paid = frame(
        demo_erp,
        "SELECT i.status, i.remaining_amount, k.sent_amount, k.collected_amount FROM ink_case k "
        "JOIN erp_invoice i ON i.invoice_id = k.invoice_id WHERE k.status = 'paid'",
    )
    assert len(paid) and (paid["remaining_amount"] == 0).all() and set(paid["status"]) == {"paid"}
    payments = frame(
        demo_erp, "SELECT method, kind, SUM(amount) AS s FROM erp_payment GROUP BY 1, 2"
    )
    payments["s"] = payments["s"].astype(int)
    assert payments.to_dict("records") == [
        {"method": "collection", "kind": "agency_settlement", "s": collected}
    ]
    before = snapshot(demo_erp)
    assert run(dags["inbound"], DAY + timedelta(days=22), 6).state == "success"
    assert_same(before, snapshot(demo_erp))


# ------------------------------------------------------------------ a real OpenSSH sshd


def test_inbound_over_a_real_openssh_sshd(
    airflow_db, demo_erp, files_base, dags, tmp_path, monkeypatch
):
    """Receipts and closures fetched from, and tidied on, OpenSSH's own SFTP server."""
    import pwd

    from inkasso.agreements import load_agreements
    from inkasso.db.schema import ink_agreement
    from inkasso_demo.simulator.agency_robot import answer_day
    from inkasso_demo.simulator.keys import ensure_keypair, sftp_connection_uri_json
    from tests.sshd import OpenSshServer

    only(demo_erp, "lowell_no")
    user = f"lowell{uuid.uuid4().hex[:8]}"
    key = ensure_keypair(tmp_path / "keys" / "client")
    with OpenSshServer(
        accounts={user: key.public_line}, folders=("Inbound", "Outbound", "Outbound/Processed")
    ) as sshd:
        conn_id = "inkasso_sftp_openssh_lowell"
        monkeypatch.setenv(
            f"AIRFLOW_CONN_{conn_id.upper()}",
            sftp_connection_uri_json(
                "127.0.0.1", sshd.port, user, key.private_path, sshd.host_key_line
            ),
        )
        with demo_erp.begin() as conn:
            conn.execute(update(ink_agreement).values(sftp_conn_id=conn_id))
        assert run(dags["dispatch"], DAY, 5).state == "success"
        # the robot plays the agency on the sshd's folders (a symlinked account folder)
        root = tmp_path / "robot"
        root.mkdir()
        os.symlink(sshd.home_of(user), root / "lowell_no")
        agreements = load_agreements(demo_erp)
        account = pwd.getpwnam(user)
        for offset in range(0, 23):
            answer_day(root, agreements, DAY + timedelta(days=offset), 11)
        for path in (sshd.home_of(user) / "Outbound").iterdir():
            os.chown(path, account.pw_uid, account.pw_gid)
        assert run(dags["inbound"], DAY + timedelta(days=22), 6).state == "success", sshd.log_text()
        files = frame(demo_erp, "SELECT * FROM ink_file_log WHERE direction = 'in'")
        assert len(files) >= 3 and set(files["status"]) == {"applied"}
        left = [p.name for p in (sshd.home_of(user) / "Outbound").iterdir() if p.is_file()]
        assert left == []
        moved = sorted(p.name for p in (sshd.home_of(user) / "Outbound" / "Processed").iterdir())
        assert moved == sorted(files["file_name"])
        statuses = frame(demo_erp, "SELECT DISTINCT status FROM ink_case")
        assert {"paid", "registered"} - set(statuses["status"]) <= {"registered"}
