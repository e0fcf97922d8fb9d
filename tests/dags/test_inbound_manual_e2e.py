"""inkasso_inbound for a manual-export agreement (Intrum) end to end: dispatch exports the case
file into the manual outbox, the agency robot plays the person and the agency and drops the
answers into ``<base>/manual_inbox/intrum/``, inbound applies them - real Airflow runs on SQLite
and PostgreSQL, no SFTP anywhere."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import update

from conftest import frame

pytestmark = pytest.mark.e2e

DAY = date(2026, 11, 2)
OSLO = "Europe/Oslo"
DEMO_CUSTOMERS = 300  # the demo_erp fixture's size for this module
MANUAL = "intrum"
STATE_TABLES = ("ink_file_log", "ink_file_issue", "ink_case", "ink_case_event")


@pytest.fixture(scope="module")
def dags(load_dag):
    return {"dispatch": load_dag("inkasso_dispatch"), "inbound": load_dag("inkasso_inbound")}


def run(dag, day, hour=6):
    import pendulum

    return dag.test(logical_date=pendulum.datetime(day.year, day.month, day.day, hour, tz=OSLO))


def snapshot(engine):
    return {t: frame(engine, f"SELECT * FROM {t} ORDER BY 1") for t in STATE_TABLES} | {
        "erp_invoice": frame(engine, "SELECT * FROM erp_invoice ORDER BY invoice_id"),
    }


def assert_same(before, after):
    for table, rows in before.items():
        pd.testing.assert_frame_equal(after[table], rows, check_dtype=False, obj=table)


@pytest.fixture
def manual_only(demo_erp, files_base, dags):
    """Only the Intrum (manual export) agreement is active; its day-1 case file is exported."""
    from inkasso.db.schema import ink_agreement

    with demo_erp.begin() as conn:
        conn.execute(
            update(ink_agreement).where(ink_agreement.c.agreement_id != MANUAL).values(active=False)
        )
    assert run(dags["dispatch"], DAY, 5).state == "success"
    exported = [p.name for p in (files_base / "manual_outbox" / MANUAL).iterdir()]
    assert len(exported) == 1 and exported[0].startswith("intrum_nya_arenden_")
    return demo_erp


def answer(engine, tmp_path, day):
    """The robot plays the person and the agency for ``day`` (files base from INKASSO_BASE)."""
    from inkasso.agreements import load_agreements
    from inkasso.runs import files_base
    from inkasso_demo.simulator.agency_robot import answer_day

    return answer_day(tmp_path / "robot", load_agreements(engine), day, 11, base=files_base())


def inbox_files(files_base):
    return sorted(p.name for p in (files_base / "manual_inbox" / MANUAL).iterdir() if p.is_file())


def test_answers_dropped_in_the_manual_inbox_are_applied_once(
    airflow_db, manual_only, files_base, dags, tmp_path
):
    engine = manual_only
    (done,) = answer(engine, tmp_path, DAY)
    (receipt,) = done["receipts"]
    assert inbox_files(files_base) == [receipt]

    assert run(dags["inbound"], DAY).state == "success"
    cases = frame(engine, "SELECT status, agency_case_ref FROM ink_case")
    assert set(cases["status"]) <= {"registered", "rejected"}
    assert (cases["status"] == "registered").sum() >= 1
    assert cases.loc[cases["status"] == "registered", "agency_case_ref"].notna().all()
    # the original bytes archived like an SFTP file, the inbox emptied into processed/
    inbox = files_base / "manual_inbox" / MANUAL
    assert (files_base / "inbound" / MANUAL / DAY.isoformat() / receipt).is_file()
    assert inbox_files(files_base) == []
    assert (inbox / "processed" / receipt).is_file()
    files = frame(engine, "SELECT * FROM ink_file_log WHERE direction = 'in'")
    assert list(files["status"]) == ["applied"]
    assert files["remote_path"][0].endswith(f"manual_inbox/{MANUAL}/processed/{receipt}")

    before = snapshot(engine)
    assert run(dags["inbound"], DAY).state == "success", "a rerun of the day"
    assert_same(before, snapshot(engine))

    # the agency answers every day; the person drops the files; inbound catches up
    for offset in range(1, 23):
        answer(engine, tmp_path, DAY + timedelta(days=offset))
    assert len(inbox_files(files_base)) >= 2
    assert run(dags["inbound"], DAY + timedelta(days=22)).state == "success"
    after = frame(engine, "SELECT status, is_open FROM ink_case")
    assert "paid" in set(after["status"])
    assert not after["is_open"].astype(bool).any(), "after three weeks every case is closed"
    files = frame(engine, "SELECT * FROM ink_file_log WHERE direction = 'in'")
    assert set(files["kind"]) == {"receipt", "closure"}
    assert set(files["status"]) == {"applied"}
    assert not files.duplicated(["agreement_id", "file_name"]).any()
    assert inbox_files(files_base) == [], "every handled file left the inbox"

    before = snapshot(engine)
    assert run(dags["inbound"], DAY + timedelta(days=22)).state == "success"
    assert run(dags["inbound"], DAY + timedelta(days=5)).state == "success", "a backfill"
    assert_same(before, snapshot(engine))


def _closure(engine, case_id: int, ref: str, collected: int, when: datetime) -> tuple[str, bytes]:
    """A closure file as Intrum writes it, for one case."""
    from inkasso.formats import load_layout, load_profile

    profile = load_profile("intrum")
    customer_no = frame(
        engine, "SELECT customer_no_at_agency FROM ink_agreement WHERE agreement_id = :a", a=MANUAL
    )["customer_no_at_agency"][0]
    name = profile.files["closure"].file_name(customer_no, when)
    details = pd.DataFrame(
        [
            {
                "case_id": case_id,
                "agency_case_ref": ref,
                "closure_status": "BETALD",
                "collected_amount": collected,
                "remaining_amount": 0,
                "closure_date": when.date(),
            }
        ]
    )
    header = {"customer_no": customer_no, "file_date": when.date()}
    return name, load_layout(profile.files["closure"].layout).write(header, details)


def test_a_broken_answer_is_quarantined_with_line_and_field_and_the_good_one_applied(
    airflow_db, manual_only, files_base, dags, tmp_path
):
    from inkasso.formats import load_layout, load_profile

    engine = manual_only
    (done,) = answer(engine, tmp_path, DAY)
    (receipt,) = done["receipts"]
    inbox = files_base / "manual_inbox" / MANUAL
    # the person also drops a closure that pays a case more than was sent to the agency
    parsed = (
        load_layout(load_profile("intrum").files["receipt"].layout)
        .read((inbox / receipt).read_bytes(), receipt)
        .details()
    )
    accepted = parsed[parsed["receipt_status"] == "A"].iloc[0]
    case_id = int(accepted["case_id"])
    sent = int(
        frame(engine, "SELECT sent_amount FROM ink_case WHERE case_id = :c", c=case_id)[
            "sent_amount"
        ][0]
    )
    name, data = _closure(
        engine, case_id, accepted["agency_case_ref"], sent + 100, datetime(2026, 11, 2, 5, 59)
    )
    (inbox / name).write_bytes(data)

    assert run(dags["inbound"], DAY).state == "success"
    files = frame(
        engine, "SELECT file_id, file_name, status FROM ink_file_log WHERE direction = 'in'"
    )
    assert dict(zip(files["file_name"], files["status"], strict=True)) == {
        receipt: "applied",
        name: "quarantined",
    }
    issues = frame(
        engine,
        "SELECT i.line, i.field, i.reason FROM ink_file_issue i JOIN ink_file_log f "
        "USING (file_id) WHERE f.file_name = :n",
        n=name,
    )
    assert len(issues) >= 1
    detail_line = 1 + data.decode().splitlines().index(
        next(line for line in data.decode().splitlines() if line.startswith(f"D;{case_id};"))
    )
    assert (int(issues["line"][0]), issues["field"][0]) == (detail_line, "collected_amount")
    case = frame(
        engine, "SELECT status, collected_amount FROM ink_case WHERE case_id = :c", c=case_id
    )
    assert case.to_dict("records") == [{"status": "registered", "collected_amount": 0}]
    assert (files_base / "quarantine" / MANUAL / name).read_bytes() == data
    # the good file moved on; the broken one stays in the inbox for the person to sort out
    assert inbox_files(files_base) == [name]
    assert (inbox / "processed" / receipt).is_file()


def test_the_same_name_dropped_again_is_skipped_and_other_bytes_are_flagged(
    airflow_db, manual_only, files_base, dags, tmp_path
):
    engine = manual_only
    (done,) = answer(engine, tmp_path, DAY)
    (receipt,) = done["receipts"]
    assert run(dags["inbound"], DAY).state == "success"
    inbox = files_base / "manual_inbox" / MANUAL
    original = (inbox / "processed" / receipt).read_bytes()
    before = snapshot(engine)

    (inbox / receipt).write_bytes(original)  # the person saves the same answer twice
    day2 = DAY + timedelta(days=1)
    assert run(dags["inbound"], day2).state == "success"
    assert_same(before, snapshot(engine))
    assert inbox_files(files_base) == [], "the duplicate is tidied away"
    assert (inbox / "processed" / receipt).read_bytes() == original

    changed = original.replace(b";A;", b";R;", 1)
    assert changed != original
    (inbox / receipt).write_bytes(changed)
    assert run(dags["inbound"], day2).state == "success"
    flagged = frame(
        engine,
        "SELECT f.status, i.reason FROM ink_file_log f JOIN ink_file_issue i USING (file_id) "
        "WHERE f.file_name = :n",
        n=receipt,
    )
    assert list(flagged["status"]) == ["flagged"]
    assert "already applied with other contents" in flagged["reason"][0]
    assert inbox_files(files_base) == [receipt], "a flagged file stays for a person"
    assert_same(
        {k: v for k, v in before.items() if k not in ("ink_file_log", "ink_file_issue")},
        snapshot(engine),
    )
