"""A process killed hard (``os._exit`` in a child process, no cleanup, no rollback handler) at each
step of deliver and of fetch / apply / tidy, then a rerun: the agency holds each file once with its
bytes, the database logs it once, and every case is opened, delivered and answered once.

The child is forked with a hook patched in at the chosen step; it must die there (exit status
``KILLED``), or the test fails: a kill that never happened proves nothing.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import traceback
from datetime import UTC, date, datetime

import pytest

from tests.db_helpers import query_rows as rows

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 2, 4, tzinfo=UTC)
CUTOFF = datetime(2026, 11, 2, 4, tzinfo=UTC)
DEMO_CUSTOMERS = 150  # the demo_erp fixture's size for this module
AGREEMENT = "lowell_no"
KILLED = 86


def _die(*_args, **_kwargs):
    os._exit(KILLED)


def _after(real):
    def run_then_die(*args, **kwargs):
        real(*args, **kwargs)
        os._exit(KILLED)

    return run_then_die


def _half_upload(self, fl, remotepath, file_size=0, callback=None, confirm=True):
    """paramiko's putfo that dies with half of the bytes written to the temporary name."""
    data = fl.read()
    with self.open(remotepath, "wb") as remote:
        remote.write(data[: len(data) // 2])
    os._exit(KILLED)


def _patch(step: str) -> None:
    """Install the kill for ``step`` (in the child only)."""
    import paramiko

    import inkasso.inbound.fetch
    import inkasso.transport

    transport = inkasso.transport
    if step == "deliver:mid_upload":
        paramiko.SFTPClient.putfo = _half_upload
    elif step == "deliver:before_read_back":
        transport._remote_sha256 = _die
    elif step == "deliver:before_rename":
        transport._rename = _die
    elif step == "deliver:after_rename":
        transport._rename = _after(transport._rename)
    elif step == "deliver:before_db_update":
        transport.deliver_sftp = _after(transport.deliver_sftp)  # imported at call time
    elif step == "fetch:after_download":
        transport.download = _after(transport.download)
    elif step == "fetch:after_archive":
        inkasso.inbound.fetch._keep = _after(inkasso.inbound.fetch._keep)
    elif step == "tidy:after_move":
        transport._rename = _after(transport._rename)
    else:  # pragma: no cover - a typo in the table below
        raise AssertionError(step)


def _child(step: str, url: str, base_url: str) -> None:
    from airflow.sdk import ObjectStoragePath

    from inkasso.db.engine import engine_for_url

    engine = engine_for_url(url)
    engine.dispose(close=False)  # never share the parent's connections
    base = ObjectStoragePath(base_url)
    _patch(step)
    try:
        _run_step(step.split(":")[0], engine, base)
    except BaseException:
        traceback.print_exc()
        os._exit(1)
    os._exit(0)  # only reached when the kill did not happen


def _run_step(flow: str, engine, base) -> None:
    from inkasso.agreements import load_agreements
    from inkasso.delivery.deliver import deliver_pending
    from inkasso.inbound import fetch_new_files, move_applied, process_received

    if flow == "deliver":
        (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
        deliver_pending(engine, agreement, base, now=NOW)
        return
    (agreement,) = load_agreements(engine, agreement_id=AGREEMENT)
    fetched = fetch_new_files(engine, agreement, base, DAY, now=NOW)
    process_received(engine, agreement, base, DAY, now=NOW)
    move_applied(engine, agreement, DAY, also=fetched.get("to_move", []))


def kill_at(step: str, url: str, base) -> None:
    process = multiprocessing.get_context("fork").Process(
        target=_child, args=(step, url, str(base))
    )
    process.start()
    process.join(120)
    assert process.exitcode == KILLED, f"the child was not killed at {step}"


@pytest.fixture
def prepared(agency, demo_erp, erp_url, tmp_path):
    """The day's new-case file of one agreement, written and logged, not yet delivered."""
    from airflow.sdk import ObjectStoragePath

    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases

    base = ObjectStoragePath(f"file://{tmp_path}/files")
    (agreement,) = load_agreements(demo_erp, agreement_id=AGREEMENT)
    result = prepare_new_cases(demo_erp, agreement, DAY, CUTOFF, base, now=NOW)
    assert result["status"] == "written" and result["cases"] > 0
    return base, result


def agency_folder(agency, which: str):
    """A folder of the agreement's account on the agency (``upload_dir``, ``outbox_dir``, ...)."""
    from inkasso.formats import load_profile

    remote = getattr(load_profile("lowell").remote, which)
    return agency.root / AGREEMENT / remote.strip("/")


def assert_delivered_once(engine, agency):
    (row,) = rows(
        engine,
        "SELECT file_id, file_name, sha256, status FROM ink_file_log "
        "WHERE agreement_id = :a AND direction = 'out'",
        a=AGREEMENT,
    )
    assert row.status == "delivered"
    inbox = agency_folder(agency, "upload_dir")
    assert sorted(p.name for p in inbox.iterdir()) == [row.file_name]  # no .part left over
    assert hashlib.sha256((inbox / row.file_name).read_bytes()).hexdigest() == row.sha256
    cases = rows(engine, "SELECT COUNT(*) FROM ink_case WHERE file_id = :f", f=row.file_id)[0][0]
    events = rows(
        engine,
        "SELECT case_id, COUNT(*) FROM ink_case_event WHERE kind = 'delivered' GROUP BY case_id",
    )
    assert len(events) == cases and {n for _, n in events} == {1}


DELIVER_STEPS = [
    "deliver:mid_upload",
    "deliver:before_read_back",
    "deliver:before_rename",
    "deliver:after_rename",
    "deliver:before_db_update",
]


@pytest.mark.parametrize("step", DELIVER_STEPS)
def test_deliver_killed_at_each_step_then_rerun_delivers_once(
    step, prepared, agency, demo_erp, erp_url
):
    from inkasso.agreements import load_agreements
    from inkasso.delivery.deliver import deliver_pending

    base, _ = prepared

    kill_at(step, erp_url, base)

    (status, claimed_by) = rows(
        demo_erp, "SELECT status, claimed_by FROM ink_file_log WHERE direction = 'out'"
    )[0]
    # never called delivered by a run that died: its claim is left, for the rerun to resume
    assert status == "delivering" and claimed_by
    (agreement,) = load_agreements(demo_erp, agreement_id=AGREEMENT)
    again = deliver_pending(demo_erp, agreement, base, now=NOW)
    expected = "already_delivered" if step.endswith(("after_rename", "db_update")) else "delivered"
    assert [f["outcome"] for f in again["files"]] == [expected]
    assert_delivered_once(demo_erp, agency)
    # and a further rerun changes nothing
    assert deliver_pending(demo_erp, agreement, base, now=NOW)["files"] == []
    assert_delivered_once(demo_erp, agency)


FETCH_STEPS = ["fetch:after_download", "fetch:after_archive", "tidy:after_move"]


@pytest.mark.parametrize("step", FETCH_STEPS)
def test_fetch_killed_at_each_step_then_rerun_applies_once(
    step, prepared, agency, demo_erp, erp_url
):
    from inkasso.agreements import load_agreements
    from inkasso.delivery.deliver import deliver_pending
    from inkasso_demo.simulator.agency_robot import answer_day

    base, _ = prepared
    (agreement,) = load_agreements(demo_erp, agreement_id=AGREEMENT)
    deliver_pending(demo_erp, agreement, base, now=NOW)
    answer_day(agency.root, load_agreements(demo_erp), DAY, 11)
    outbox = agency_folder(agency, "outbox_dir")
    answers = sorted(p.name for p in outbox.iterdir() if p.is_file())
    assert answers, "the agency robot answered nothing"

    kill_at(step, erp_url, base)
    _run_step("fetch", demo_erp, base)  # the rerun
    _run_step("fetch", demo_erp, base)  # and once more: nothing changes

    logged = rows(
        demo_erp,
        "SELECT file_name, status FROM ink_file_log WHERE agreement_id = :a AND direction = 'in' "
        "ORDER BY file_name",
        a=AGREEMENT,
    )
    assert [(name, status) for name, status in logged] == [(n, "applied") for n in answers]
    events = rows(
        demo_erp,
        "SELECT case_id, kind, COUNT(*) FROM ink_case_event WHERE kind <> 'delivered' "
        "GROUP BY case_id, kind HAVING COUNT(*) > 1",
    )
    assert events == []  # no case answered twice
    registered = rows(demo_erp, "SELECT COUNT(*) FROM ink_case WHERE agency_case_ref IS NOT NULL")
    assert registered[0][0] > 0
    # every answer left the agency's outbox for its processed folder, once
    assert sorted(p.name for p in outbox.iterdir() if p.is_file()) == []
    processed = agency_folder(agency, "processed_dir")
    assert sorted(p.name for p in processed.iterdir()) == answers
