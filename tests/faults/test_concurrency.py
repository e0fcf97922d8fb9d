"""Two processes running the same step of the same agreement at once (issue 9 item 4, issue 10).

Each test forks two children with their own database connections; they start the step together
at a barrier, and one of them is slowed down inside the step so that the runs really overlap.
Afterwards the test asserts what the agency (the in-process SFTP simulator) holds and what the
database says: one file written, uploaded, archived and applied once, the loser ending cleanly
(``exists``, ``nothing_to_report``, nothing claimed) instead of with a raw database error.
On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
import traceback
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert

from tests.db_helpers import query_rows as rows

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 4, tzinfo=UTC)
LATER = datetime(2026, 11, 3, 3, 30, tzinfo=UTC)
DEMO_CUSTOMERS = 150  # the demo_erp fixture's size for this module
AGREEMENT = "lowell_no"
PAUSE = 0.7  # seconds the slowed child stays inside the step


def _slowed(real):
    def slow(*args, **kwargs):
        time.sleep(PAUSE)
        return real(*args, **kwargs)

    return slow


def _slow_down(step: str) -> None:
    """Stretch the critical part of ``step`` (in a child) so both runs are inside it at once."""
    import inkasso.corrections.prepare
    import inkasso.dispatch.run
    import inkasso.transport

    if step == "prepare":
        inkasso.dispatch.run.write_new_file = _slowed(inkasso.dispatch.run.write_new_file)
    elif step == "corrections":
        prepare = inkasso.corrections.prepare
        prepare.write_new_file = _slowed(prepare.write_new_file)
    elif step == "deliver":
        inkasso.transport._read_checked = _slowed(inkasso.transport._read_checked)
    elif step == "inbound":
        inkasso.transport.list_remote = _slowed(inkasso.transport.list_remote)


def _run(step: str, engine, base, run_id: str) -> dict:
    from inkasso.agreements import load_agreements
    from inkasso.corrections import prepare_corrections
    from inkasso.delivery.deliver import deliver_pending
    from inkasso.dispatch import prepare_new_cases
    from inkasso.inbound import fetch_new_files, move_applied, process_received

    if step == "inbound":
        (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
        fetched = fetch_new_files(engine, agreement, base, DAY, now=NOW, run_id=run_id)
        applied = process_received(engine, agreement, base, DAY, now=NOW)
        moved = move_applied(engine, agreement, DAY, also=fetched.get("to_move", []))
        return {"fetched": fetched, "applied": applied, "moved": moved}
    (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
    if step == "prepare":
        return prepare_new_cases(engine, agreement, DAY, NOW, base, now=NOW, run_id=run_id)
    if step == "corrections":
        return prepare_corrections(engine, agreement, DAY, base, now=LATER, run_id=run_id)
    return deliver_pending(engine, agreement, base, now=NOW)


def _child(step, url, base_url, barrier, queue, number) -> None:
    from airflow.sdk import ObjectStoragePath

    from inkasso.db.engine import engine_for_url

    try:
        engine = engine_for_url(url)
        engine.dispose(close=False)  # never share the parent's connections
        if number == 0:
            _slow_down(step)
        barrier.wait(30)
        result = _run(step, engine, ObjectStoragePath(base_url), f"run-{number}")
        queue.put({"number": number, "result": result})
    except BaseException as exc:  # reported by the parent: a child's traceback would vanish
        queue.put({"number": number, "error": f"{type(exc).__name__}: {exc}"})
        traceback.print_exc()
    queue.close()
    queue.join_thread()  # the answer is written by a feeder thread: let it finish first
    os._exit(0)


def run_together(step: str, url: str, base) -> list[dict]:
    """Run ``step`` in two child processes started together; their results, by child number."""
    ctx = multiprocessing.get_context("fork")
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    children = [
        ctx.Process(target=_child, args=(step, url, str(base), barrier, queue, n)) for n in (0, 1)
    ]
    for child in children:
        child.start()
    answers = sorted((queue.get(timeout=240) for _ in children), key=lambda a: a["number"])
    for child in children:
        child.join(30)
    errors = [a["error"] for a in answers if "error" in a]
    assert errors == [], f"a concurrent {step} failed: {errors}"
    return [a["result"] for a in answers]


def agency_folder(agency, which: str):
    from inkasso.formats import load_profile

    remote = getattr(load_profile("lowell").remote, which)
    return agency.root / AGREEMENT / remote.strip("/")


def files_in(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.exists() else []


@pytest.fixture
def base(tmp_path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{tmp_path}/files")


def prepare_once(engine, base):
    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases

    (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
    result = prepare_new_cases(engine, agreement, DAY, NOW, base, now=NOW, run_id="setup")
    assert result["status"] == "written" and result["cases"] > 0
    return agreement


def deliver_once(engine, base):
    from inkasso.agreements import load_agreements
    from inkasso.delivery.deliver import deliver_pending

    (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
    return deliver_pending(engine, agreement, base, now=NOW)


def pay_cases(engine, n: int) -> None:
    """A direct payment on each of ``n`` open cases of the agreement (for a correction file)."""
    from inkasso.db.schema import erp_payment

    cases = rows(
        engine,
        "SELECT k.invoice_id, i.client_id FROM ink_case k "
        "JOIN erp_invoice i ON i.invoice_id = k.invoice_id "
        "WHERE k.agreement_id = :a ORDER BY k.case_id",
        a=AGREEMENT,
    )[:n]
    assert len(cases) == n
    with engine.begin() as conn:
        for i, case in enumerate(cases):
            conn.execute(
                insert(erp_payment).values(
                    client_id=case.client_id,
                    invoice_id=case.invoice_id,
                    bank_file="OCR.20261102.txt",
                    payment_ref=f"concurrent-{i}",
                    amount=1000 + i,
                    payment_date=DAY,
                    kind="direct",
                    booked_at=LATER - timedelta(hours=1),
                )
            )


def test_two_prepares_of_one_day_write_one_file_and_the_loser_says_exists(
    agency, demo_erp, erp_url, base
):
    results = run_together("prepare", erp_url, base)

    statuses = sorted(r["status"] for r in results)
    assert statuses == ["exists", "written"], results
    winner = next(r for r in results if r["status"] == "written")
    loser = next(r for r in results if r["status"] == "exists")
    assert loser["file_name"] == winner["file_name"]
    assert loser["prepared_by"] == f"run-{results.index(winner)}"  # names the run that won
    logged = rows(
        demo_erp,
        "SELECT file_id, file_name, sha256, record_count, run_id FROM ink_file_log "
        "WHERE agreement_id = :a AND direction = 'out'",
        a=AGREEMENT,
    )
    assert len(logged) == 1 and logged[0].file_name == winner["file_name"]
    outbox = base / "outbox" / AGREEMENT
    assert sorted(p.name for p in outbox.iterdir()) == [winner["file_name"]]  # no loser's file
    data = (outbox / winner["file_name"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == logged[0].sha256
    # every invoice opened once, all in the winner's file
    cases = rows(
        demo_erp,
        "SELECT invoice_id, COUNT(*) FROM ink_case GROUP BY invoice_id HAVING COUNT(*) > 1",
    )
    assert cases == []
    (opened,) = rows(demo_erp, "SELECT COUNT(*) FROM ink_case WHERE file_id = :f", f=logged[0][0])
    assert opened[0] == logged[0].record_count == winner["cases"]

    assert [f["outcome"] for f in deliver_once(demo_erp, base)["files"]] == ["delivered"]
    inbox = agency_folder(agency, "upload_dir")
    assert files_in(inbox) == [winner["file_name"]]
    assert (inbox / winner["file_name"]).read_bytes() == data


def test_two_deliverers_upload_and_record_each_file_once(agency, demo_erp, erp_url, base):
    prepare_once(demo_erp, base)
    pay_cases(demo_erp, 3)
    from inkasso.agreements import load_agreements
    from inkasso.corrections import prepare_corrections

    (agreement,) = load_agreements(demo_erp, agreement_id=AGREEMENT)
    assert prepare_corrections(demo_erp, agreement, DAY, base, now=LATER)["status"] == "written"
    logged = rows(
        demo_erp,
        "SELECT file_id, file_name, sha256, kind FROM ink_file_log "
        "WHERE agreement_id = :a AND direction = 'out' ORDER BY file_id",
        a=AGREEMENT,
    )
    assert [r.kind for r in logged] == ["new_cases", "corrections"]

    results = run_together("deliver", erp_url, base)

    sent = sorted(f["file_name"] for r in results for f in r["files"])
    assert sent == sorted(r.file_name for r in logged)  # each file reported by one deliverer
    assert [f["outcome"] for r in results for f in r["files"]] == ["delivered"] * len(logged)
    inbox = agency_folder(agency, "upload_dir")
    assert files_in(inbox) == sorted(r.file_name for r in logged)  # and no .part left
    for row in logged:
        assert hashlib.sha256((inbox / row.file_name).read_bytes()).hexdigest() == row.sha256
    statuses = rows(
        demo_erp,
        "SELECT status, claimed_by FROM ink_file_log WHERE direction = 'out' ORDER BY file_id",
    )
    assert [s.status for s in statuses] == ["delivered", "delivered"]
    assert len({s.claimed_by for s in statuses}) == 1  # one deliverer claimed both
    twice = rows(
        demo_erp,
        "SELECT case_id, file_id, COUNT(*) FROM ink_case_event WHERE kind = 'delivered' "
        "GROUP BY case_id, file_id HAVING COUNT(*) > 1",
    )
    assert twice == []
    (events,) = rows(demo_erp, "SELECT COUNT(*) FROM ink_case_event WHERE kind = 'delivered'")
    (cases,) = rows(demo_erp, "SELECT COUNT(*) FROM ink_case WHERE agreement_id = :a", a=AGREEMENT)
    assert events[0] == cases[0] + 3  # every case once, the three corrected cases once more
    # and a later run finds nothing left to deliver
    assert deliver_once(demo_erp, base)["files"] == []


def test_two_inbound_runs_archive_and_apply_each_answer_once(agency, demo_erp, erp_url, base):
    from inkasso.agreements import load_agreements
    from inkasso_demo.simulator.agency_robot import answer_day

    prepare_once(demo_erp, base)
    deliver_once(demo_erp, base)
    answer_day(agency.root, load_agreements(demo_erp), DAY, 11)
    answers = files_in(agency_folder(agency, "outbox_dir"))
    assert answers, "the agency robot answered nothing"

    results = run_together("inbound", erp_url, base)

    received = sorted(n for r in results for n in r["fetched"]["received"])
    assert received == answers  # each answer taken by one run
    applied = sorted(a["file_name"] for r in results for a in r["applied"]["applied"])
    assert applied == answers
    logged = rows(
        demo_erp,
        "SELECT file_name, status, path FROM ink_file_log WHERE agreement_id = :a "
        "AND direction = 'in' ORDER BY file_name",
        a=AGREEMENT,
    )
    assert [(r.file_name, r.status) for r in logged] == [(n, "applied") for n in answers]
    archive = base / "inbound" / AGREEMENT / DAY.isoformat()
    assert sorted(p.name for p in archive.iterdir()) == answers  # one copy each
    twice = rows(
        demo_erp,
        "SELECT case_id, kind, file_id, COUNT(*) FROM ink_case_event WHERE kind <> 'delivered' "
        "GROUP BY case_id, kind, file_id HAVING COUNT(*) > 1",
    )
    assert twice == []
    (registered,) = rows(
        demo_erp, "SELECT COUNT(*) FROM ink_case WHERE agency_case_ref IS NOT NULL"
    )
    assert registered[0] > 0
    assert files_in(agency_folder(agency, "outbox_dir")) == []
    assert files_in(agency_folder(agency, "processed_dir")) == answers


def test_two_correction_runs_write_one_file_and_report_each_event_once(demo_erp, erp_url, base):
    prepare_once(demo_erp, base)
    pay_cases(demo_erp, 3)

    results = run_together("corrections", erp_url, base)

    assert sorted(r["status"] for r in results) == ["nothing_to_report", "written"], results
    winner = next(r for r in results if r["status"] == "written")
    assert winner["corrections"] == 3
    logged = rows(
        demo_erp,
        "SELECT file_name, record_count FROM ink_file_log WHERE kind = 'corrections'",
    )
    assert [tuple(r) for r in logged] == [(winner["file_name"], 3)]
    every_logged = sorted(r[0] for r in rows(demo_erp, "SELECT file_name FROM ink_file_log"))
    assert sorted(p.name for p in (base / "outbox" / AGREEMENT).iterdir()) == every_logged
    (reported,) = rows(demo_erp, "SELECT COUNT(*), COUNT(DISTINCT source_id) FROM ink_correction")
    assert tuple(reported) == (3, 3)


def test_an_answer_moved_by_another_run_meanwhile_is_not_an_error(agency, demo_erp, monkeypatch):
    """Two tidy steps at once: the file one of them is about to move is gone, moved by the
    other, between its check and its rename. That is the other run's success, not a failure."""
    import inkasso.transport as transport
    from inkasso.agreements import load_agreements
    from inkasso.inbound.sources import SftpSource

    (agreement,) = load_agreements(demo_erp, agreement_id=AGREEMENT)
    outbox, processed = agency_folder(agency, "outbox_dir"), agency_folder(agency, "processed_dir")
    processed.mkdir(parents=True, exist_ok=True)
    for name in ("a.txt", "b.txt"):
        (outbox / name).write_bytes(name.encode())
    real = transport._rename

    def other_run_first(client, src, dst):
        if src.endswith("/a.txt"):  # the other run moves it just before this one does
            (outbox / "a.txt").rename(processed / "a.txt")
        return real(client, src, dst)

    monkeypatch.setattr(transport, "_rename", other_run_first)
    assert SftpSource(agreement).move(["a.txt", "b.txt"]) == ["b.txt"]
    assert files_in(outbox) == [] and files_in(processed) == ["a.txt", "b.txt"]
