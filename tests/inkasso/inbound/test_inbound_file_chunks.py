"""An inbound file read in chunks by ``process_received`` (SQLite and PostgreSQL) ends the same
as the whole file checked and applied at once: the same cases, events, collections and
invoices, or, for a bad file, the same issues and nothing applied. The whole-file outcome is
computed with the whole-file functions in a transaction that is rolled back, on the same
database, just before."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import insert, text

from inkasso.db.schema import ink_file_log
from inkasso.formats import load_profile
from inkasso.inbound import process_received
from inkasso.inbound.apply import apply_closure, apply_receipt
from inkasso.inbound.validate import check_details, check_suite, parse_file, read_cases
from tests.inkasso.inbound import test_inbound_apply as apply_tests
from tests.inkasso.inbound.test_inbound_apply import (
    AMOUNT,
    DAY,
    LOWELL,
    NOW,
    build,
    closure,
    receipt,
)

db, base = apply_tests.db, apply_tests.base  # the fixtures: two clients, their cases, a folder

TABLES = {
    "cases": "SELECT case_id, status, is_open, agency_case_ref, collected_amount, rejection_reason,"
    " closed_remaining_amount, closed_date"
    " FROM ink_case ORDER BY case_id",
    "events": "SELECT case_id, kind, detail, file_id, at FROM ink_case_event ORDER BY event_id",
    "collections": "SELECT case_id, invoice_id, file_id, closure_date, amount, booked_amount"
    " FROM ink_collection ORDER BY collection_id",
    "invoices": "SELECT invoice_id, status, remaining_amount FROM erp_invoice ORDER BY invoice_id",
}


def _archive(engine, folder, kind, records) -> dict:
    """Build the file, put it in the archive and the file log as fetch does; its log row."""
    name, data = build(LOWELL, kind, records)
    path = folder / "inbound" / LOWELL.agreement_id / DAY.isoformat() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    row = dict(client_id=LOWELL.client_id, agreement_id=LOWELL.agreement_id, direction="in",
               kind=kind, file_name=name, business_date=DAY, status="received", path=str(path),
               sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), record_count=0,
               amount_total=0, created_at=NOW)  # fmt: skip
    with engine.begin() as conn:
        row["file_id"] = conn.execute(insert(ink_file_log).values(**row)).inserted_primary_key[0]
    return row | {"data": data}


def _state(conn) -> dict:
    return {k: [tuple(r) for r in conn.execute(text(sql))] for k, sql in TABLES.items()}


def _whole_file(engine, row) -> tuple[list, dict]:
    """The whole-file outcome (issues; tables after the apply), rolled back afterwards."""
    profile = load_profile(LOWELL.agency)
    parsed = parse_file(profile, row["kind"], row["data"], row["file_name"], DAY)
    assert not parsed.issues
    with engine.connect() as conn, conn.begin() as trans:
        cases = read_cases(conn, LOWELL.agreement_id, parsed.details["case_id"])
        issues, merged = check_details(parsed, cases, LOWELL, profile, DAY)
        issues += check_suite(parsed)
        if not issues:
            if row["kind"] == "receipt":
                apply_receipt(conn, [merged], row["file_id"], row["file_name"], NOW)
            else:
                apply_closure(conn, [merged], LOWELL, row["file_id"], row["file_name"], NOW)
        state = _state(conn)
        trans.rollback()
    return [(i.line, i.field, i.reason) for i in issues], state


def _issues(engine, file_id) -> list:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(
            text("SELECT line, field, reason FROM ink_file_issue WHERE file_id = :f"
                 " ORDER BY issue_id"), {"f": file_id})]  # fmt: skip


@pytest.mark.parametrize("chunk_rows", [1, 2])
def test_files_in_tiny_chunks_apply_as_the_whole_file(db, base, chunk_rows):
    got = []
    for kind, records in [
        ("receipt", [receipt(101), receipt(102), receipt(103, status="R", code="X1")]),
        ("closure", [closure(101), closure(102, status="partly_paid", collected=AMOUNT // 3,
                                          remaining=AMOUNT - AMOUNT // 3)]),
    ]:  # fmt: skip
        row = _archive(db, base, kind, records)
        issues, expected = _whole_file(db, row)
        assert issues == []
        out = process_received(db, LOWELL, base, DAY, now=NOW, chunk_rows=chunk_rows)
        assert [a["file_name"] for a in out["applied"]] == [row["file_name"]]
        with db.connect() as conn:
            assert _state(conn) == expected
            logged = conn.execute(text("SELECT status, record_count FROM ink_file_log "
                                       "WHERE file_id = :f"), {"f": row["file_id"]}).one()  # fmt: skip
        assert tuple(logged) == ("applied", len(records))
        got.append(expected)
    assert len(got[1]["collections"]) == 2 and len(got[1]["events"]) > len(got[0]["events"])


@pytest.mark.parametrize("chunk_rows", [1, 2])
def test_a_case_twice_across_chunks_and_a_bad_last_record_quarantine_the_file(db, base, chunk_rows):
    records = [
        closure(101),
        closure(102),
        closure(101, collected=AMOUNT - 1),  # the same case again, in a later chunk
        closure(103, collected=AMOUNT + 1),  # the last record: more than was sent
    ]
    row = _archive(db, base, "closure", records)
    issues, _ = _whole_file(db, row)
    with db.connect() as conn:
        before = _state(conn)
    out = process_received(db, LOWELL, base, DAY, now=NOW, chunk_rows=chunk_rows)
    assert out["applied"] == [] and out["quarantined"][0]["file_name"] == row["file_name"]
    got = _issues(db, row["file_id"])
    assert got == issues
    assert [i[:2] for i in got[:2]] == [(4, "case_id"), (5, "collected_amount")]
    assert any("expect_column_values_to_be_unique" in i[2] for i in got)
    with db.connect() as conn:
        assert _state(conn) == before  # nothing applied, nothing half-applied
    quarantined = base / "quarantine" / LOWELL.agreement_id / row["file_name"]
    assert quarantined.read_bytes() == row["data"]


@pytest.mark.parametrize("chunk_rows", [1, 3])
def test_suite_failures_spread_over_chunks_are_counted_and_worded_as_for_the_whole_file(
    db, base, chunk_rows
):
    records = [receipt(0), receipt(101), receipt(0), receipt(102), receipt(0), receipt(103)]
    row = _archive(db, base, "receipt", records)
    issues, _ = _whole_file(db, row)
    process_received(db, LOWELL, base, DAY, now=NOW, chunk_rows=chunk_rows)
    got = _issues(db, row["file_id"])
    assert got == issues
    suite = [i[2] for i in got if i[2].startswith("data check")]
    assert len(suite) == 2 and all("3 unexpected, first at line 2" in s for s in suite)


@pytest.mark.parametrize("chunk_rows", [7, 100])
def test_repeats_over_the_cap_are_worded_by_line_and_counted_as_for_the_whole_file(
    db, base, chunk_rows
):
    # 3 cases, 60 lines: every line after the first three repeats a case of an earlier chunk
    records = [receipt(case_id) for _ in range(20) for case_id in (101, 102, 103)]
    row = _archive(db, base, "receipt", records)
    issues, _ = _whole_file(db, row)
    with db.connect() as conn:
        before = _state(conn)
    out = process_received(db, LOWELL, base, DAY, now=NOW, chunk_rows=chunk_rows)
    assert out["applied"] == [] and out["quarantined"][0]["line"] == 5
    got = _issues(db, row["file_id"])
    assert got == issues
    twice = [i for i in got if i[1] == "case_id" and not i[2].startswith("data check")]
    # the second occurrence's line (header on line 1: records on lines 2..61), 50 worded
    assert twice[:2] == [
        (5, "case_id", "case 101 appears more than once in the file"),
        (6, "case_id", "case 102 appears more than once in the file"),
    ]
    assert [i[0] for i in twice[:50]] == list(range(5, 55))
    assert twice[50] == (None, "case_id", "... and 7 more lines with the same problem")
    suite = [i[2] for i in got if "expect_column_values_to_be_unique" in i[2]]
    assert len(suite) == 1 and "60 unexpected, first at line 2" in suite[0]
    with db.connect() as conn:
        assert _state(conn) == before
