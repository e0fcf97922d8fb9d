"""The agency robot and the demo bank as long-running services, beside the demo DAG's steps.

The services run as real subprocesses against a small demo world. Whatever answers or writes
first (the service, the DAG-side call ``world.agency_answers`` / ``world.bank_files``, or both at
once), the files are the same, byte for byte, as the DAG-side call alone makes, and nothing is
answered or written twice. SIGTERM stops a service cleanly (exit status 0).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest

from conftest import PROJECT_ROOT

pytestmark = pytest.mark.e2e

DAY1 = date(2026, 11, 2)  # the demo's first day
DAY2 = DAY1 + timedelta(days=1)
POLL = 0.3  # seconds between the services' polls
WAIT = 60  # seconds a service may take to start and answer


@pytest.fixture(scope="module")
def erp_template(tmp_path_factory) -> Path:
    """A small demo ERP (the demo's seed and first day), made once; each test gets a copy."""
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso_demo.demo import FIRST_DAY, SEED
    from inkasso_demo.erp.generator import create_demo_erp

    path = tmp_path_factory.mktemp("erp") / "erp.sqlite"
    engine = engine_for_url(f"sqlite:///{path}")
    upgrade(engine)
    create_demo_erp(engine, seed=SEED, customers=300, start_day=FIRST_DAY)
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture
def world(tmp_path, erp_template):
    """A demo home: its own copy of the ERP, the Airflow home, files base and SFTP root."""
    from airflow.sdk import ObjectStoragePath

    from inkasso.agreements import load_agreements
    from inkasso.db.engine import engine_for_url

    shutil.copy(erp_template, tmp_path / "erp.sqlite")
    url = f"sqlite:///{tmp_path / 'erp.sqlite'}"
    engine = engine_for_url(url)
    home = tmp_path / "home"
    root = home / "inkasso-demo" / "agency-sftp"
    base = tmp_path / "files"
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "INKASSO_BASE": str(base),
        "INKASSO_DEMO_ERP_URL": url,
        "INKASSO_DEMO_POLL_SECONDS": str(POLL),
        "PYTHONPATH": str(PROJECT_ROOT / "plugins"),
    }
    agreements = {a.agreement_id: a for a in load_agreements(engine)}
    return {
        "engine": engine,
        "env": env,
        "root": root,
        "base": ObjectStoragePath(f"file://{base}"),
        "base_dir": base,
        "agreements": agreements,
    }


def start(world, module: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", module],
        env=world["env"],
        cwd=PROJECT_ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def stop(proc: subprocess.Popen) -> str:
    """SIGTERM the service; it must exit 0. Returns its output."""
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0, out
    assert "stopped" in out.splitlines()[-1], out
    return out


def wait_for(check, proc: subprocess.Popen, timeout: float = WAIT):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        if proc.poll() is not None:
            pytest.fail(f"the service exited ({proc.returncode}): {proc.stdout.read()}")
        time.sleep(POLL / 2)
    proc.kill()
    pytest.fail(f"not done after {timeout} s: {proc.communicate()[0]}")


def folders(world, agreement_id: str, root: Path | None = None) -> tuple[Path, Path]:
    """The agreement's upload folder (what the agency receives) and outbox (its answers)."""
    from inkasso.formats import load_profile

    a = world["agreements"][agreement_id]
    if a.mode == "manual":
        base = world["base_dir"]
        return base / "manual_outbox" / agreement_id, base / "manual_inbox" / agreement_id
    remote = load_profile(a.agency).remote
    home = (root or world["root"]) / agreement_id
    return home / remote.upload_dir.strip("/"), home / remote.outbox_dir.strip("/")


def files(folder: Path) -> dict[str, bytes]:
    if not folder.is_dir():
        return {}
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def case_file(world, agreement_id: str, when: datetime, first_case: int) -> tuple[str, bytes]:
    """A new-case file as dispatch sends it: five cases, named for ``when``."""
    from inkasso.dispatch.file import DETAIL_COLUMNS
    from inkasso.formats import load_layout, load_profile

    a = world["agreements"][agreement_id]
    spec = load_profile(a.agency).files["new_cases"]
    rows = [
        {
            "case_id": case_id,
            "invoice_no": f"INV{case_id}",
            "debtor_no": f"C{case_id}",
            "debtor_name": "Kari Nordmann",
            "debtor_type": "P",
            "national_id": "01010112345",
            "street": "Storgata 1",
            "postcode": "0150",
            "city": "Oslo",
            "country": "NO",
            "invoice_date": date(2026, 9, 1),
            "due_date": date(2026, 9, 15),
            "original_amount": 125000,
            "remaining_amount": 100000 + case_id,
            "currency": "NOK",
            "kid": f"{case_id:010d}",
            "reminder_count": 2,
        }
        for case_id in range(first_case, first_case + 5)
    ]
    header = {
        "customer_no": a.customer_no_at_agency,
        "client_name": "Demo AS",
        "client_org_no": "999999999",
        "file_date": when.date(),
        "currency": "NOK",
        "payback_account": "12345678903",
    }
    frame = pd.DataFrame(rows)[DETAIL_COLUMNS]
    data = load_layout(spec.layout).write(header, frame)
    return spec.file_name(a.customer_no_at_agency, when), data


def recall_file(world, agreement_id: str, when: datetime, case_ids) -> tuple[str, bytes]:
    """A corrections file recalling ``case_ids`` (sent by corrections before dispatch)."""
    from inkasso.formats import load_layout, load_profile

    a = world["agreements"][agreement_id]
    spec = load_profile(a.agency).files["corrections"]
    frame = pd.DataFrame(
        {
            "case_id": list(case_ids),
            "agency_case_ref": [f"LOW42{c:09d}" for c in case_ids],
            "invoice_no": [f"INV{c}" for c in case_ids],
            "correction_type": ["RC"] * len(case_ids),
            "amount": [100000 + c for c in case_ids],
            "correction_date": [when.date()] * len(case_ids),
        }
    )
    header = {"customer_no": a.customer_no_at_agency, "file_date": when.date()}
    return spec.file_name(a.customer_no_at_agency, when), load_layout(spec.layout).write(
        header, frame
    )


def answer_name(world, agreement_id: str, kind: str, when: datetime) -> str:
    """The name of the agency's receipt or closure file written for ``when``."""
    from inkasso.formats import load_profile

    a = world["agreements"][agreement_id]
    return load_profile(a.agency).files[kind].file_name(a.customer_no_at_agency, when)


def deliver(folder: Path, name: str, data: bytes) -> None:
    """Put a file in an upload folder the way delivery does: hidden name, then a rename."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / f".{name}.part").write_bytes(data)
    (folder / f".{name}.part").rename(folder / name)


def dag_answers(world, day: date, root: Path | None = None) -> dict:
    from inkasso_demo.simulator.world import agency_answers

    return agency_answers(world["engine"], world["base"], day, sftp_root=root or world["root"])


def reference(world, tmp_path, deliveries) -> dict[str, dict[str, bytes]]:
    """The agencies' answers when only the demo DAG answers: each day's files delivered, then
    ``agency_answers`` for the day; the outboxes by agreement."""
    root = tmp_path / "reference-sftp"
    saved = world["base_dir"]
    world["base_dir"] = tmp_path / "reference-files"
    from airflow.sdk import ObjectStoragePath

    base, world["base"] = world["base"], ObjectStoragePath(f"file://{world['base_dir']}")
    try:
        for day in sorted({d for d, *_ in deliveries}):
            for d, agreement_id, name, data in deliveries:
                if d == day:
                    deliver(folders(world, agreement_id, root)[0], name, data)
            dag_answers(world, day, root)
        return {
            agreement_id: files(folders(world, agreement_id, root)[1])
            for agreement_id in {a for _, a, *_ in deliveries}
        }
    finally:
        world["base_dir"], world["base"] = saved, base


def start_racers(world, code: str, args: list[str], n: int = 2) -> list[subprocess.Popen]:
    """``n`` Python processes running ``code`` with ``args`` at once: the DAG side of a race."""
    return [
        subprocess.Popen(
            [sys.executable, "-c", code, *args],
            env=world["env"],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for _ in range(n)
    ]


def finish_racers(racers: list[subprocess.Popen]) -> list[str]:
    """Wait for each racer; each must succeed. Their outputs, in order."""
    outs = []
    for proc in racers:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out
        outs.append(out)
    return outs


def test_the_robot_service_answers_arrivals_and_the_dag_adds_nothing(world, tmp_path):
    day1_lowell = case_file(world, "lowell_no", datetime(2026, 11, 2, 5, 0, 3), 1)
    day1_manual = case_file(world, "credicare", datetime(2026, 11, 2, 5, 0, 4), 101)
    late = case_file(world, "lowell_no", datetime(2026, 11, 2, 5, 40, 0), 6)
    recall = recall_file(world, "lowell_no", datetime(2026, 11, 3, 4, 30, 1), range(1, 6))
    day2_lowell = case_file(world, "lowell_no", datetime(2026, 11, 3, 5, 0, 2), 11)
    lowell_in, lowell_out = folders(world, "lowell_no")
    manual_in, manual_out = folders(world, "credicare")

    robot = start(world, "inkasso_demo.simulator.robot")
    try:
        deliver(lowell_in, *day1_lowell)
        deliver(manual_in, *day1_manual)
        wait_for(lambda: len(files(lowell_out)) == 1 and len(files(manual_out)) == 1, robot)
        # the demo DAG's step for the same day afterwards: nothing new, nothing rewritten
        before = files(lowell_out), files(manual_out)
        answered = dag_answers(world, DAY1)
        assert answered["lowell_no"] == {"receipts": [], "closures": []}
        assert answered["credicare"] == {"receipts": [], "closures": []}
        assert (files(lowell_out), files(manual_out)) == before

        # a case file arriving after the day was answered still gets its receipt, of its day
        deliver(lowell_in, *late)
        wait_for(lambda: len(files(lowell_out)) == 2, robot)
        assert answer_name(world, "lowell_no", "receipt", datetime(2026, 11, 2, 5, 31)) in files(
            lowell_out
        )

        # next day: the recalls (sent before dispatch) are read, and with the day's case file
        # come its receipt and the day's closures (the recalled cases)
        deliver(lowell_in, *recall)
        time.sleep(4 * POLL)
        assert len(files(lowell_out)) == 2, "no closures before the day's case file"
        deliver(lowell_in, *day2_lowell)
        wait_for(lambda: len(files(lowell_out)) == 4, robot)
        assert dag_answers(world, DAY2)["lowell_no"] == {"receipts": [], "closures": []}
        time.sleep(4 * POLL)  # and the service itself writes nothing more
        final = files(lowell_out), files(manual_out)
    finally:
        out = stop(robot)
    assert final == (files(lowell_out), files(manual_out))
    assert "Traceback" not in out, out

    # the same bytes as the demo DAG alone makes from the same deliveries
    expected = reference(
        world,
        tmp_path,
        [
            (DAY1, "lowell_no", *day1_lowell),
            (DAY1, "credicare", *day1_manual),
            (DAY1, "lowell_no", *late),
            (DAY2, "lowell_no", *recall),
            (DAY2, "lowell_no", *day2_lowell),
        ],
    )
    assert final[0] == expected["lowell_no"]
    assert final[1] == expected["credicare"]
    closure = answer_name(world, "lowell_no", "closure", datetime(2026, 11, 3, 5, 50))
    assert closure in final[0] and b"LOW42" in final[0][closure]  # the recalled cases


def test_the_robot_service_does_not_answer_a_day_ahead_of_the_clock(world):
    from inkasso_demo.simulator.poll import business_today

    tomorrow = business_today() + timedelta(days=1)
    when = datetime(tomorrow.year, tomorrow.month, tomorrow.day, 5, 0, 0)
    lowell_in, lowell_out = folders(world, "lowell_no")
    deliver(lowell_in, *case_file(world, "lowell_no", when, 1))
    today_file = case_file(world, "lowell_no", datetime(2026, 11, 2, 5, 0, 0), 21)
    robot = start(world, "inkasso_demo.simulator.robot")
    try:
        deliver(lowell_in, *today_file)
        wait_for(lambda: files(lowell_out), robot)
        time.sleep(4 * POLL)
        answered = files(lowell_out)
    finally:
        stop(robot)
    # tomorrow's file waits for its day
    assert list(answered) == [
        answer_name(world, "lowell_no", "receipt", datetime(2026, 11, 2, 5, 30))
    ]


def test_the_robot_service_and_the_dag_at_once_answer_once(world, tmp_path):
    deliveries = [
        (DAY1, "lowell_no", *case_file(world, "lowell_no", datetime(2026, 11, 2, 5, 0, 1), 1)),
        (DAY1, "lowell_no", *case_file(world, "lowell_no", datetime(2026, 11, 2, 5, 0, 2), 6)),
        (DAY1, "credicare", *case_file(world, "credicare", datetime(2026, 11, 2, 5, 0, 3), 101)),
    ]
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from airflow.sdk import ObjectStoragePath\n"
        "from pathlib import Path\n"
        "from inkasso.db.engine import engine_for_url\n"
        "from inkasso_demo.simulator.world import agency_answers\n"
        "url, base, root = sys.argv[1:]\n"
        "print(agency_answers(engine_for_url(url), ObjectStoragePath('file://' + base),\n"
        "                    date(2026, 11, 2), sftp_root=Path(root)))\n"
    )
    robot = start(world, "inkasso_demo.simulator.robot")
    try:
        for _, agreement_id, name, data in deliveries:
            deliver(folders(world, agreement_id)[0], name, data)
        # two DAG-side calls racing the service (and each other) for the same day
        args = [world["env"]["INKASSO_DEMO_ERP_URL"], str(world["base_dir"]), str(world["root"])]
        finish_racers(start_racers(world, code, args))
        lowell_out, manual_out = folders(world, "lowell_no")[1], folders(world, "credicare")[1]
        wait_for(lambda: len(files(lowell_out)) == 2 and len(files(manual_out)) == 1, robot)
        time.sleep(4 * POLL)
        got = {"lowell_no": files(lowell_out), "credicare": files(manual_out)}
    finally:
        stop(robot)
    assert got == reference(world, tmp_path, deliveries)
    # each file read once: the robot's record lists it once
    import json

    state = json.loads((world["root"] / ".robot" / "lowell_no.json").read_text())
    assert sorted(state["seen"]) == sorted(n for _, a, n, _ in deliveries if a == "lowell_no")
    assert state["answered"] == [DAY1.isoformat()]
    assert not list(world["root"].rglob("*.tmp")) and not list(world["root"].rglob("*.part"))


def bank_drop(world) -> dict[str, bytes]:
    bank = world["base_dir"] / "bank"
    return {p.name: p.read_bytes() for p in sorted(bank.rglob("*.txt"))}


def test_the_bank_service_writes_each_day_once_and_the_dag_adds_nothing(world, tmp_path):
    from inkasso_demo.simulator.bank import write_bank_files
    from inkasso_demo.simulator.world import bank_files, erp_activity

    engine = world["engine"]
    bank = start(world, "inkasso_demo.simulator.bank_service")
    try:
        # the demo's first day has no ERP day before it: the demo DAG writes its files
        time.sleep(4 * POLL)
        assert bank_drop(world) == {}
        assert bank_files(engine, world["base"], DAY1)["new"] == 8  # one file per client
        day1 = bank_drop(world)
        time.sleep(4 * POLL)
        assert bank_drop(world) == day1, "day 2 has not begun: the ERP has not played day 1"

        # the demo DAG plays the ERP's day 1: day 2 begins, the service writes it
        erp_activity(engine, DAY2, base=world["base"])
        both = wait_for(lambda: len(bank_drop(world)) == 16 and bank_drop(world), bank)
        assert bank_files(engine, world["base"], DAY2) == {
            "files": 8,
            "new": 0,
            "payments": 0,
            "payouts": 0,
        }
        time.sleep(4 * POLL)
        final = bank_drop(world)
    finally:
        out = stop(bank)
    assert final == both
    assert {n for n in final if "20261103" in n} == {n.replace("1102", "1103") for n in day1}
    assert "Traceback" not in out, out
    # the same bytes the DAG's step writes from the same ERP
    elsewhere = tmp_path / "dag-only"
    assert all(w.written for w in write_bank_files(engine, elsewhere, DAY2, seed=42))
    expected = {p.name: p.read_bytes() for p in elsewhere.rglob("*.txt")}
    assert expected == {n: b for n, b in final.items() if "20261103" in n}


def test_the_bank_service_and_the_dag_at_once_write_once(world):
    from inkasso_demo.simulator.bank_service import bank_step
    from inkasso_demo.simulator.world import erp_activity

    engine = world["engine"]
    erp_activity(engine, DAY2, base=world["base"])  # day 2 has begun
    code = (
        "import sys\n"
        "from datetime import date\n"
        "from airflow.sdk import ObjectStoragePath\n"
        "from inkasso.db.engine import engine_for_url\n"
        "from inkasso_demo.simulator.world import bank_files\n"
        "url, base = sys.argv[1:]\n"
        "print(bank_files(engine_for_url(url), ObjectStoragePath('file://' + base),\n"
        "                 date(2026, 11, 3))['new'])\n"
    )
    args = [world["env"]["INKASSO_DEMO_ERP_URL"], str(world["base_dir"])]
    racers = start_racers(world, code, args)
    bank = start(world, "inkasso_demo.simulator.bank_service")
    news = [int(out.strip().splitlines()[-1]) for out in finish_racers(racers)]
    try:
        wait_for(lambda: len(bank_drop(world)) == 8, bank)
        time.sleep(4 * POLL)
    finally:
        out = stop(bank)
    written_by_service = out.count("OCR.1.20261103.txt")
    assert sum(news) + 8 * written_by_service == 8  # every client's file written exactly once
    assert sorted(bank_drop(world)) == sorted(
        f"{'OCR' if c <= 3 else 'BGMAX'}.{c}.20261103.txt" for c in range(1, 9)
    )
    assert bank_step(engine, world["base"], 42, today=DAY2) == {}  # and nothing is left to do
    assert not list(world["base_dir"].rglob("*.part"))
