"""Two runs of the bank import at once (a manual rerun beside the scheduled run, a backfill, a
retry beside a zombie) over the same drop: each file's bytes are booked once, whatever the
interleaving, and the loser ends cleanly instead of failing (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
import threading
import time

import pytest

from inkasso.bank.importer import import_bank_file
from tests.db_helpers import query_frame as rows
from tests.db_helpers import query_one as one
from tests.db_helpers import receive_at_example_accounts

DAY = dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 2, 3, tzinfo=dt.UTC)
CLIENT = 1  # Norwegian client: Nets OCR giro


@pytest.fixture
def demo(demo_erp):
    """The generated demo ERP (conftest's, 400 customers from ``DAY``)."""
    receive_at_example_accounts(demo_erp)
    return demo_erp


def _ocr_sample(reference_dir) -> bytes:
    return (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt").read_bytes()


def _two_runs_at_once(
    monkeypatch, engine, base, first: str, second: str, data: bytes, slow: str = "book_staged"
) -> list:
    """Import ``data`` as ``first`` in one thread and as ``second`` in another, the second
    started while the first is inside its booking transaction (in the importer's step
    ``slow``), past the point where it looked for the same bytes."""
    import inkasso.bank.importer as importer

    inside, real = threading.Event(), getattr(importer, slow)
    calls = []

    def slow_first(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:  # the first booking holds its transaction open a while
            inside.set()
            time.sleep(1.5)
        return real(*args, **kwargs)

    monkeypatch.setattr(importer, slow, slow_first)
    results, errors = [None, None], []

    def book(i, name):
        try:
            results[i] = import_bank_file(
                engine, CLIENT, name, data, business_date=DAY, base=base / str(i), now=NOW,
                run_id=f"run-{i}",
            )  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - the test reports it below
            errors.append(exc)

    threads = [threading.Thread(target=book, args=(0, first))]
    threads[0].start()
    assert inside.wait(30)
    threads.append(threading.Thread(target=book, args=(1, second)))
    threads[1].start()
    for t in threads:
        t.join(90)
    assert not errors, errors
    return results  # [first, second]


def _booked(engine) -> tuple[int, int]:
    """(payments, their sum in øre) in the ERP."""
    frame = rows(engine, "SELECT amount FROM erp_payment WHERE kind <> 'agency_settlement'")
    return len(frame), int(frame["amount"].sum()) if len(frame) else 0


def test_the_same_bytes_under_two_names_in_two_runs_at_once_are_booked_once(
    demo, tmp_path, reference_dir, monkeypatch
):
    """The drop holds one payment file twice (the bank sent it again under a new name); two
    overlapping runs take one name each: one books it, the other logs a duplicate."""
    data = _ocr_sample(reference_dir)
    results = _two_runs_at_once(monkeypatch, demo, tmp_path, "OCR.1.txt", "OCR.2.txt", data)

    assert [r["status"] for r in results] == ["applied", "duplicate"]
    payments, amount = _booked(demo)
    applied = results[0]
    assert (payments, amount) == (applied["payments"], applied["amount"])
    logged = rows(demo, "SELECT file_name, status FROM ink_file_log WHERE kind = 'ocr_giro'")
    assert sorted(logged["status"]) == ["applied", "duplicate"]
    assert one(demo, "SELECT COUNT(DISTINCT bank_file) FROM erp_payment") == 1


def test_one_file_imported_by_two_runs_at_once_is_booked_once(
    demo, tmp_path, reference_dir, monkeypatch
):
    """Both runs take the same file of the drop: one books it, the other says it is already
    imported (no unique-key failure, no second booking)."""
    data = _ocr_sample(reference_dir)
    results = _two_runs_at_once(monkeypatch, demo, tmp_path, "OCR.txt", "OCR.txt", data)

    assert [r["status"] for r in results] == ["applied", "already_imported"]
    payments, _ = _booked(demo)
    assert payments == one(
        demo, "SELECT record_count FROM ink_file_log WHERE kind = 'ocr_giro' AND status = 'applied'"
    )
    assert one(demo, "SELECT COUNT(*) FROM ink_file_log WHERE kind = 'ocr_giro'") == 1


def test_a_broken_file_imported_by_two_runs_at_once_is_quarantined_once(
    demo, tmp_path, monkeypatch
):
    """Both runs take the same broken file: one quarantines it, the other finds it quarantined
    (no unique-key failure, one log row, nothing booked)."""
    from tests.inkasso.bank.test_bank_reused_names import _ocr_twice_numbered

    data = _ocr_twice_numbered("1234567890")
    results = _two_runs_at_once(
        monkeypatch, demo, tmp_path, "OCR.txt", "OCR.txt", data, slow="iter_bank_file"
    )

    assert [r["status"] for r in results] == ["quarantined", "already_imported"]
    logged = rows(demo, "SELECT status FROM ink_file_log WHERE file_name = 'OCR.txt'")
    assert logged["status"].tolist() == ["quarantined"]
    assert one(demo, "SELECT COUNT(*) FROM erp_payment") == 0


class _Drop:
    client_id = CLIENT

    def describe(self) -> str:
        return "sftp://bank_no/outbox"


def test_a_refused_name_noted_by_two_runs_at_once_is_kept_once_and_neither_fails(demo):
    """Two runs of one client and day list the same refused and vanished names: the second
    writes while the first holds its uncommitted rows, then finds them kept (before, it failed
    on the table's unique key)."""
    from inkasso.bank.importer import record_notices

    results = [
        {"status": "refused", "file_name": "../x"},
        {"status": "vanished", "file_name": "OCR.1.txt"},
    ]
    done, errors = threading.Event(), []

    def second() -> None:
        try:
            with demo.begin() as conn:
                record_notices(conn, _Drop(), results, business_date=DAY, now=NOW, run_id="b")
        except Exception as exc:  # noqa: BLE001  the test's verdict, reported below
            errors.append(exc)
        finally:
            done.set()

    with demo.begin() as conn:
        record_notices(conn, _Drop(), results, business_date=DAY, now=NOW, run_id="a")
        thread = threading.Thread(target=second)
        thread.start()
        time.sleep(1.0)  # the second run is now waiting on our uncommitted rows (or lock)
        assert not done.is_set()
    thread.join(timeout=60)
    assert done.is_set() and errors == []
    kept = rows(demo, "SELECT status, file_name, run_id FROM ink_bank_notice ORDER BY status")
    assert kept.values.tolist() == [["refused", "../x", "a"], ["vanished", "OCR.1.txt", "a"]]
