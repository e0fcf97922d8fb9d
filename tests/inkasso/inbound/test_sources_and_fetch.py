"""Where answers come from (the manual inbox on any object storage) and who owns a newly listed
file when runs of different days fetch at once (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime

import pandas as pd
import pytest
from sqlalchemy import insert, text

from inkasso.agreements import Agreement
from inkasso.db.schema import ink_agreement
from inkasso.formats import load_profile
from inkasso.inbound import fetch_new_files
from inkasso.inbound.sources import InboxSource, source_for

INTRUM = Agreement(
    agreement_id="intrum",
    client_id=8,
    agency="intrum",
    country="SE",
    customer_no_at_agency="77001",
    mode="manual",
)
NOW = datetime(2026, 11, 10, 5, tzinfo=UTC)


def receipt_name(second: int) -> str:
    spec = load_profile("intrum").files["receipt"]
    return spec.file_name(INTRUM.customer_no_at_agency, datetime(2026, 11, 9, 5, 30, second))


def test_the_manual_inbox_works_on_object_storage_other_than_a_local_folder():
    """memory:// stands in for s3://: listing, reading and moving go through the path API."""
    from airflow.sdk import ObjectStoragePath

    base = ObjectStoragePath(f"memory://inkasso-{time.monotonic_ns()}")
    source = source_for(INTRUM, base)
    assert isinstance(source, InboxSource)
    assert source.list_names() == []
    inbox = base / "manual_inbox" / "intrum"
    (inbox / "b.csv").write_bytes(b"B")
    (inbox / "a.csv").write_bytes(b"A")
    (inbox / ".a.csv.part").write_bytes(b"half")  # still being written
    assert source.list_names() == ["a.csv", "b.csv"]
    assert source.read(["a.csv"]) == {"a.csv": b"A"}
    assert source.prefix + "a.csv" == str(inbox / "a.csv")

    (inbox / "processed").mkdir(parents=True, exist_ok=True)
    (inbox / "processed" / "b.csv").write_bytes(b"B")  # dropped twice: same bytes
    assert source.move(["a.csv", "b.csv", "gone.csv"]) == ["a.csv", "b.csv"]
    assert source.list_names() == [], "processed/ is not listed"
    assert (inbox / "processed" / "a.csv").read_bytes() == b"A"

    (inbox / "a.csv").write_bytes(b"other bytes")  # never overwrites the processed copy
    assert source.move(["a.csv"]) == ["a.csv"]
    assert (inbox / "processed" / "a.csv").read_bytes() == b"A"
    kept = [p.name for p in (inbox / "processed").iterdir() if p.name.endswith("_a.csv")]
    assert len(kept) == 1 and (inbox / "processed" / kept[0]).read_bytes() == b"other bytes"


@pytest.fixture
def intrum_db(erp_engine):
    with erp_engine.begin() as conn:
        conn.execute(
            insert(ink_agreement).values(
                agreement_id="intrum", client_id=8, agency="intrum", country="SE",
                customer_no_at_agency=INTRUM.customer_no_at_agency, agency_bank_account="1",
                mode="manual",
            )
        )  # fmt: skip
    return erp_engine


def test_runs_of_two_days_fetching_at_once_file_each_answer_under_one_day(
    intrum_db, tmp_path, monkeypatch
):
    """Issue 9: overlapping runs (a backfill beside today's run) must not both take the same
    newly listed files. A slow listing holds both runs inside the window where they raced."""
    from airflow.sdk import ObjectStoragePath

    base = ObjectStoragePath(f"file://{tmp_path / 'files'}")
    inbox = base / "manual_inbox" / "intrum"
    inbox.mkdir(parents=True, exist_ok=True)
    names = [receipt_name(s) for s in range(3)]
    for i, name in enumerate(names):
        (inbox / name).write_bytes(f"receipt {i}\n".encode())

    listing = InboxSource.list_names

    def slow_listing(self):
        found = listing(self)
        time.sleep(0.5)
        return found

    monkeypatch.setattr(InboxSource, "list_names", slow_listing)
    days = [date(2026, 11, 9), date(2026, 11, 10)]
    start = threading.Barrier(len(days))
    results, errors = {}, []

    def fetch(day):
        try:
            start.wait()
            results[day] = fetch_new_files(intrum_db, INTRUM, base, day, now=NOW, run_id=str(day))
        except Exception as exc:  # reported below: a thread's exception would vanish
            errors.append(exc)

    threads = [threading.Thread(target=fetch, args=(d,)) for d in days]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with intrum_db.connect() as conn:
        logged = pd.DataFrame(
            conn.execute(text("SELECT file_name, business_date, run_id FROM ink_file_log")).all()
        )
    assert sorted(logged["file_name"]) == names, "every file logged once"
    assert logged["business_date"].nunique() == 1, "one run owns the newly listed files"
    owner = date.fromisoformat(str(logged["business_date"][0]))
    assert sorted(results[owner]["received"]) == names
    other = next(d for d in days if d != owner)
    if other < owner:  # the later day listed first: the earlier one is a backfill
        assert results[other]["mode"] == "archive"
    else:  # the earlier day listed first; the later one found nothing new
        assert results[other]["mode"] == "inbox" and results[other]["received"] == []
