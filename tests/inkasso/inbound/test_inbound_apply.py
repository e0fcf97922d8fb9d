"""Receipts and closures checked and applied (or quarantined) against a real ERP database,
SQLite and PostgreSQL: the archive -> validate -> apply path without SFTP."""

from __future__ import annotations

import hashlib
import threading
import time
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import insert

from inkasso.agreements import Agreement
from inkasso.db.schema import (
    erp_client,
    erp_customer,
    erp_invoice,
    ink_agreement,
    ink_case,
    ink_file_log,
)
from inkasso.formats import load_layout, load_profile
from inkasso.inbound import process_received
from tests.db_helpers import query_frame as rows

DAY = date(2026, 11, 10)
SENT = date(2026, 11, 2)
NOW = datetime(2026, 11, 10, 5, tzinfo=UTC)
LOWELL = Agreement(
    agreement_id="lowell_no",
    client_id=1,
    agency="lowell",
    country="NO",
    customer_no_at_agency="40012",
    mode="sftp",
    sftp_conn_id="c_lowell",
    interim_account="1684",
    booking_mode="bank",
)
SVEA = Agreement(
    agreement_id="svea",
    client_id=2,
    agency="svea",
    country="SE",
    customer_no_at_agency="55501",
    mode="sftp",
    sftp_conn_id="c_svea",
    interim_account="1684",
    booking_mode="bank",
)
CASES = {LOWELL: [101, 102, 103], SVEA: [201, 202]}
AMOUNT = 100_000  # øre sent per case


@pytest.fixture
def db(erp_engine):
    """Two clients with one agreement each and cases sent on SENT (invoices at collection)."""
    with erp_engine.begin() as conn:
        for ag in CASES:
            conn.execute(
                insert(erp_client).values(
                    client_id=ag.client_id, name=f"Client {ag.client_id}", org_no="999",
                    country="NO", currency="NOK", min_collection_amount=5000,
                    default_bank_account="1234",
                )
            )  # fmt: skip
            conn.execute(
                insert(erp_customer).values(
                    customer_id=ag.client_id, client_id=ag.client_id, customer_no="1",
                    name="Ola", is_organisation=False, national_id="x", country="NO",
                )
            )  # fmt: skip
            conn.execute(
                insert(ink_agreement).values(
                    agreement_id=ag.agreement_id, client_id=ag.client_id, agency=ag.agency,
                    country="NO", customer_no_at_agency=ag.customer_no_at_agency,
                    agency_bank_account="1", mode="sftp", sftp_conn_id=ag.sftp_conn_id,
                )
            )  # fmt: skip
            file_id = conn.execute(
                insert(ink_file_log).values(
                    client_id=ag.client_id, agreement_id=ag.agreement_id, direction="out",
                    kind="new_cases", file_name=f"LS{ag.client_id}", business_date=SENT,
                    status="delivered", path="x", sha256="x", size_bytes=1, record_count=1,
                    amount_total=1, created_at=NOW,
                )
            ).inserted_primary_key[0]  # fmt: skip
            for case_id in CASES[ag]:
                conn.execute(
                    insert(erp_invoice).values(
                        invoice_id=case_id, client_id=ag.client_id, customer_id=ag.client_id,
                        invoice_no=str(case_id), invoice_date=SENT, due_date=SENT,
                        currency="NOK", original_amount=AMOUNT, remaining_amount=AMOUNT,
                        kid="1", status="at_collection",
                    )
                )  # fmt: skip
                conn.execute(
                    insert(ink_case).values(
                        case_id=case_id, agreement_id=ag.agreement_id, invoice_id=case_id,
                        customer_id=ag.client_id, file_id=file_id, status="sent",
                        original_amount=AMOUNT, sent_amount=AMOUNT, currency="NOK",
                        business_date=SENT, opened_at=NOW,
                    )
                )  # fmt: skip
    return erp_engine


@pytest.fixture
def base(tmp_path):
    from airflow.sdk import ObjectStoragePath

    return ObjectStoragePath(f"file://{tmp_path / 'files'}")


def build(ag: Agreement, kind: str, rows: list[dict]) -> tuple[str, bytes]:
    profile = load_profile(ag.agency)
    spec = profile.files[kind]
    name = spec.file_name(ag.customer_no_at_agency, datetime(2026, 11, 10, 5, 40))
    frame = pd.DataFrame(rows)
    if kind == "closure":
        codes = {v: k for k, v in profile.closure_statuses.items()}
        frame["closure_status"] = frame.pop("status").map(codes)
    data = load_layout(spec.layout).write({"customer_no": ag.customer_no_at_agency,
                                            "file_date": DAY}, frame)  # fmt: skip
    return name, data


def receipt(case_id, status="A", ref=None, code="", reason=""):
    return {"case_id": case_id, "agency_case_ref": ref or ("" if status == "R" else f"L{case_id}"),
            "receipt_status": status, "reason_code": code, "reason_text": reason}  # fmt: skip


def closure(case_id, status="paid", collected=AMOUNT, remaining=0, ref=None, when=DAY):
    return {"case_id": case_id, "agency_case_ref": ref or f"L{case_id}", "status": status,
            "collected_amount": collected, "remaining_amount": remaining, "closure_date": when}  # fmt: skip


def deliver(engine, base, ag, name, data, kind=None):
    """Put a file into the archive and the file log as fetch does, then process the agreement."""
    path = base / "inbound" / ag.agreement_id / DAY.isoformat() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    kind = kind or load_profile(ag.agency).incoming_kind(name, ag.customer_no_at_agency)
    with engine.begin() as conn:
        conn.execute(
            insert(ink_file_log).values(
                client_id=ag.client_id, agreement_id=ag.agreement_id, direction="in", kind=kind,
                file_name=name, business_date=DAY, status="received", path=str(path),
                sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), record_count=0,
                amount_total=0, created_at=NOW,
            )
        )  # fmt: skip
    return process_received(engine, ag, base, DAY, now=NOW)


def case_state(engine):
    return rows(engine, "SELECT case_id, status, is_open, agency_case_ref, collected_amount "
                        "FROM ink_case ORDER BY case_id")  # fmt: skip


def test_receipt_registers_accepted_cases_and_hands_rejected_invoices_back(db, base):
    name, data = build(LOWELL, "receipt", [
        receipt(101), receipt(102, "R", code="R03", reason="Skyldner under gjeldsordning"),
    ])  # fmt: skip
    out = deliver(db, base, LOWELL, name, data)
    assert [a["file_name"] for a in out["applied"]] == [name]
    cases = case_state(db).set_index("case_id")
    assert cases.loc[101, "status"] == "registered" and cases.loc[101, "agency_case_ref"] == "L101"
    assert cases.loc[102, "status"] == "rejected" and not cases.loc[102, "is_open"]
    assert cases.loc[103, "status"] == "sent"
    inv = rows(db, "SELECT status, marked_for_collection FROM erp_invoice WHERE invoice_id = 102")
    assert inv.to_dict("records") == [{"status": "open", "marked_for_collection": False}]
    reason = rows(db, "SELECT rejection_reason FROM ink_case WHERE case_id = 102")
    assert reason["rejection_reason"][0] == "R03: Skyldner under gjeldsordning"
    events = rows(db, "SELECT case_id, kind FROM ink_case_event ORDER BY case_id")
    assert events.to_dict("records") == [
        {"case_id": 101, "kind": "registered"}, {"case_id": 102, "kind": "rejected"},
    ]  # fmt: skip


def test_closure_before_its_receipt_and_a_receipt_after_the_closure(db, base):
    name, data = build(LOWELL, "closure", [closure(101, ref="L101")])
    deliver(db, base, LOWELL, name, data)
    name2, data2 = build(LOWELL, "receipt", [receipt(101), receipt(102)])
    deliver(db, base, LOWELL, name2.replace("0540", "0541"), data2)
    cases = case_state(db).set_index("case_id")
    assert cases.loc[101, "status"] == "paid" and not cases.loc[101, "is_open"]
    assert cases.loc[101, "collected_amount"] == AMOUNT
    assert cases.loc[102, "status"] == "registered"
    events = rows(
        db, "SELECT kind, detail FROM ink_case_event WHERE case_id = 101 ORDER BY event_id"
    )
    assert list(events["kind"]) == ["paid", "receipt_after_closure"]
    assert "closure arrived before the receipt" in events["detail"][0]


def test_partly_paid_keeps_the_case_open_and_a_rejection_after_closure_is_ignored(db, base):
    deliver(db, base, LOWELL, *build(LOWELL, "receipt", [receipt(101), receipt(102)]))
    name, data = build(LOWELL, "closure", [
        closure(101, "partly_paid", collected=30_000, remaining=70_000),
        closure(102, "uncollectible", collected=0, remaining=AMOUNT),
    ])  # fmt: skip
    deliver(db, base, LOWELL, name, data)
    cases = case_state(db).set_index("case_id")
    assert cases.loc[101, "status"] == "partly_paid" and cases.loc[101, "is_open"]
    assert cases.loc[102, "status"] == "uncollectible" and not cases.loc[102, "is_open"]
    late = build(LOWELL, "receipt", [receipt(102, "R", code="R01", reason="late")])
    deliver(db, base, LOWELL, late[0].replace("0540", "0542"), late[1])
    assert case_state(db).set_index("case_id").loc[102, "status"] == "uncollectible"
    kinds = rows(db, "SELECT kind FROM ink_case_event WHERE case_id = 102 ORDER BY event_id")
    assert list(kinds["kind"]) == ["registered", "uncollectible", "rejection_ignored"]


def _replace_line(data: bytes, line: int, new: bytes, sep=b"\r\n") -> bytes:
    lines = data.split(sep)
    lines[line - 1] = new(lines[line - 1]) if callable(new) else new
    return sep.join(lines)


MALFORMED = {
    "truncated line": (
        LOWELL, "closure", [closure(101), closure(102)],
        lambda d: _replace_line(d, 3, lambda ln: ln[:50]), 3, None, "truncated line",
    ),
    "wrong trailer totals": (
        LOWELL, "closure", [closure(101), closure(102)],
        lambda d: _replace_line(d, 4, lambda ln: ln[:11] + b"000000000000001" + ln[26:]),
        4, "amount_total", "",
    ),
    "bad encoding": (
        SVEA, "closure", [closure(201, ref="S201")],
        lambda d: _replace_line(d, 2, lambda ln: ln[:20] + b"\xff" + ln[21:], b"\n"),
        2, None, "utf-8",
    ),
    "non-numeric amount": (
        LOWELL, "closure", [closure(101), closure(102)],
        lambda d: _replace_line(d, 2, lambda ln: ln[:40] + b"12x4" + ln[44:]),
        2, "collected_amount", "",
    ),
    "unknown case": (
        LOWELL, "closure", [closure(101), closure(999)], lambda d: d, 3, "case_id", "unknown case 999",
    ),
    "collected more than sent": (
        LOWELL, "closure", [closure(101, collected=AMOUNT + 1)], lambda d: d, 2,
        "collected_amount", "more than",
    ),
    # a NUL reached PostgreSQL's COPY (and blocked the agreement) and was applied on SQLite
    "NUL in a text field": (
        LOWELL, "receipt", [receipt(101, status="R", code="X1", reason="Bad address")],
        lambda d: d.replace(b"Bad address", b"Bad\x00address"), 2, "reason_text",
        "control character \\x00",
    ),
    "escape character in a reference": (
        SVEA, "closure", [closure(201, ref="S201")], lambda d: d.replace(b"S201", b"S\x1b01"), 2,
        "agency_case_ref", "control character \\x1b",
    ),
    "another client's customer number": (
        LOWELL, "receipt", [receipt(101)], lambda d: d.replace(b"40012", b"40013", 1), 1,
        "customer_no", "not this agreement",
    ),
}  # fmt: skip


@pytest.mark.parametrize("problem", list(MALFORMED))
def test_a_malformed_file_is_quarantined_whole_with_line_field_and_reason(db, base, problem):
    ag, kind, records, corrupt, line, field, words = MALFORMED[problem]
    name, good = build(ag, kind, records)
    before = case_state(db)
    out = deliver(db, base, ag, name, corrupt(good))
    assert out["applied"] == [] and [q["file_name"] for q in out["quarantined"]] == [name]
    logged = rows(
        db, "SELECT file_id, status, detail FROM ink_file_log WHERE file_name = :n", n=name
    )
    assert logged["status"][0] == "quarantined"
    issues = rows(db, "SELECT line, field, reason FROM ink_file_issue WHERE file_id = :f",
                  f=int(logged["file_id"][0]))  # fmt: skip
    first = issues.iloc[0]
    assert first["line"] == line and first["field"] == field, issues.to_dict("records")
    assert words.lower() in first["reason"].lower()
    pd.testing.assert_frame_equal(case_state(db), before)
    assert rows(db, "SELECT COUNT(*) AS n FROM ink_case_event")["n"][0] == 0
    assert (base / "quarantine" / ag.agreement_id / name).read_bytes() == corrupt(good)
    # the other files go on: a good file after it is applied
    fine = build(ag, "receipt", [receipt(CASES[ag][0], ref=f"S{CASES[ag][0]}")])
    again = deliver(
        db, base, ag, fine[0].replace("0540", "0549").replace("T0540", "T0549"), fine[1]
    )
    assert len(again["applied"]) == 1


def _versions(engine) -> dict:
    """Row versions of case 101 and invoice 102: a write makes a new one. PostgreSQL: ``xmin``;
    SQLite: a count kept by triggers (made on first use) of the updates each row had."""
    if engine.dialect.name == "postgresql":
        sql = """SELECT 'case' AS what, xmin::text AS v FROM ink_case WHERE case_id = 101
                 UNION ALL SELECT 'invoice', xmin::text FROM erp_invoice WHERE invoice_id = 102"""
        return dict(rows(engine, sql).itertuples(index=False, name=None))
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS test_writes (what TEXT, id INTEGER)")
        for what, table, key in (("case", "ink_case", "case_id"),
                                 ("invoice", "erp_invoice", "invoice_id")):  # fmt: skip
            conn.exec_driver_sql(
                f"CREATE TRIGGER IF NOT EXISTS test_writes_{table} AFTER UPDATE ON {table}"
                f" BEGIN INSERT INTO test_writes VALUES ('{what}', NEW.{key}); END"
            )
    sql = """SELECT 'case' AS what, COUNT(*) AS v FROM test_writes WHERE what = 'case' AND id = 101
             UNION ALL SELECT 'invoice', COUNT(*) FROM test_writes
             WHERE what = 'invoice' AND id = 102"""
    return dict(rows(engine, sql).itertuples(index=False, name=None))


def test_a_closure_restating_a_case_writes_neither_it_nor_an_invoice_already_ended(db, base):
    """Only rows whose values change are written: a partly paid case restated with the same
    figures keeps its row (its event is still logged), and an invoice already
    ``collection_ended`` is not rewritten by the next closure file's status sweep."""
    deliver(db, base, LOWELL, *build(LOWELL, "receipt", [receipt(c) for c in (101, 102, 103)]))
    part = closure(101, "partly_paid", collected=30_000, remaining=70_000)
    first = build(LOWELL, "closure", [part, closure(102, "uncollectible", 0, AMOUNT)])
    deliver(db, base, LOWELL, *first)
    before = _versions(db)
    name, data = build(LOWELL, "closure", [part, closure(103)])
    out = deliver(db, base, LOWELL, name.replace("0540", "0541"), data)
    assert [a["file_name"] for a in out["applied"]] == [name.replace("0540", "0541")]
    assert _versions(db) == before
    cases = case_state(db).set_index("case_id")
    assert (
        cases.loc[101, "status"] == "partly_paid" and cases.loc[101, "collected_amount"] == 30_000
    )
    assert cases.loc[103, "status"] == "paid"
    kinds = rows(db, "SELECT kind FROM ink_case_event WHERE case_id = 101 ORDER BY event_id")
    assert list(kinds["kind"]) == ["registered", "partly_paid", "partly_paid"]
    invoices = rows(db, "SELECT invoice_id, status FROM erp_invoice ORDER BY invoice_id")
    assert invoices.set_index("invoice_id")["status"].to_dict() == {
        101: "at_collection", 102: "collection_ended", 103: "payout_pending",
        201: "at_collection", 202: "at_collection",
    }  # fmt: skip


# Two inbound runs of one agreement at once (a backfill of an earlier day beside today's run):
# closure files of the same case are applied one after the other, each against what the other
# committed, so the collections add up to what the agency says it collected.

NEXT = DAY + timedelta(days=1)


def receive(engine, base, ag, name: str, data: bytes, day) -> None:
    """Archive a fetched closure file and log it ``received`` for ``day``, as fetch does."""
    path = base / "inbound" / ag.agreement_id / day.isoformat() / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    with engine.begin() as conn:
        conn.execute(
            insert(ink_file_log).values(
                client_id=ag.client_id, agreement_id=ag.agreement_id, direction="in",
                kind="closure", file_name=name, business_date=day, status="received",
                path=str(path), sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data),
                record_count=0, amount_total=0, created_at=NOW,
            )
        )  # fmt: skip


def test_closures_of_one_case_applied_by_two_runs_at_once_add_up(db, base, monkeypatch):
    """Today's run applies the first closure (30 000 collected) and is slow to commit; a
    backfill of yesterday meanwhile applies the second (50 000 to date). The case's
    collections are 30 000 + 20 000, not 30 000 + 50 000."""
    import inkasso.inbound.apply as apply

    deliver(db, base, LOWELL, *build(LOWELL, "receipt", [receipt(101)]))
    first = build(LOWELL, "closure", [closure(101, "partly_paid", 30_000, AMOUNT - 30_000)])
    second = build(LOWELL, "closure", [closure(101, "partly_paid", 50_000, AMOUNT - 50_000)])
    # the first file is today's (fetched today); the second came yesterday, under a later name
    receive(db, base, LOWELL, first[0].replace("0540", "0550"), first[1], NEXT)
    receive(db, base, LOWELL, second[0].replace("0540", "0551"), second[1], DAY)

    inside, real = threading.Event(), apply.query
    slowed = []

    def slow_first(name):
        if name == "erp/update_ended_invoice_status" and not slowed:
            slowed.append(name)  # the first closure applied: hold its transaction open
            inside.set()
            time.sleep(2)
        return real(name)

    monkeypatch.setattr(apply, "query", slow_first)
    results, errors = {}, []

    def run(day):
        try:
            results[day] = process_received(db, LOWELL, base, day, now=NOW)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    today = threading.Thread(target=run, args=(NEXT,))
    today.start()
    assert inside.wait(30)
    backfill = threading.Thread(target=run, args=(DAY,))
    backfill.start()
    today.join(60)
    backfill.join(60)
    assert not errors, errors

    applied = sorted(a["file_name"] for r in results.values() for a in r["applied"])
    assert len(applied) == 2
    case = rows(db, "SELECT collected_amount FROM ink_case WHERE case_id = 101")
    assert case["collected_amount"].tolist() == [50_000]
    collections = rows(
        db, "SELECT amount FROM ink_collection WHERE case_id = 101 ORDER BY collection_id"
    )
    assert collections["amount"].tolist() == [30_000, 20_000]
