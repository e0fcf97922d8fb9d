"""Poison answers from an agency (SQLite and PostgreSQL): NUL, wrong encoding, a BOM, truncated,
empty, a huge line. Each is quarantined whole with line, field and reason; nothing of it is
applied; the next good file of the same agreement is applied; a rerun changes nothing."""

from __future__ import annotations

import pytest

from inkasso.inbound import process_received
from tests.db_helpers import query_rows as rows
from tests.inkasso.inbound.test_inbound_apply import (  # noqa: F401  (fixtures)
    DAY,
    LOWELL,
    NOW,
    SVEA,
    base,
    build,
    closure,
    db,
    deliver,
    receipt,
)


def _line(data: bytes, number: int, change, sep=b"\r\n") -> bytes:
    lines = data.split(sep)
    lines[number - 1] = change(lines[number - 1])
    return sep.join(lines)


POISONS = {
    "nul in an amount": (LOWELL, lambda d: _line(d, 2, lambda ln: ln[:40] + b"\x00" + ln[41:]), 2),
    "latin-1 in a utf-8 file": (SVEA, lambda d: d.replace(b"S201", "Sø01".encode("latin-1")), 2),
    "utf-16": (LOWELL, lambda d: d.decode("iso-8859-1").encode("utf-16"), 1),
    "utf-8 bom": (SVEA, lambda d: b"\xef\xbb\xbf" + d, 1),
    "truncated": (LOWELL, lambda d: d[: len(d) * 2 // 3], None),
    "empty": (LOWELL, lambda d: b"", None),
    "huge line": (LOWELL, lambda d: _line(d, 2, lambda ln: ln + b" " * 5_000_000 + b"X"), 2),
}


@pytest.mark.parametrize("poison", sorted(POISONS))
def test_a_poison_answer_is_quarantined_and_the_next_one_applied(poison, db, base):  # noqa: F811
    agreement, corrupt, line = POISONS[poison]
    case_id = 101 if agreement is LOWELL else 201
    name, good = build(agreement, "closure", [closure(case_id, ref=f"S{case_id}")])
    data = corrupt(good)

    out = deliver(db, base, agreement, name, data)

    assert out["applied"] == [] and [q["file_name"] for q in out["quarantined"]] == [name]
    issues = rows(
        db,
        "SELECT i.line, i.field, i.reason FROM ink_file_issue i JOIN ink_file_log f "
        "ON f.file_id = i.file_id WHERE f.file_name = :n",
        n=name,
    )
    assert issues and issues[0].reason
    if line is not None:
        assert issues[0].line == line, issues
    assert rows(db, "SELECT status FROM ink_case WHERE case_id = :c", c=case_id)[0][0] == "sent"
    assert (base / "quarantine" / agreement.agreement_id / name).read_bytes() == data

    later = build(agreement, "receipt", [receipt(case_id, ref=f"S{case_id}")])
    later_name = later[0].replace("0540", "0549")
    again = deliver(db, base, agreement, later_name, later[1])

    assert [a["file_name"] for a in again["applied"]] == [later_name]
    rerun = process_received(db, agreement, base, DAY, now=NOW)
    assert rerun["applied"] == [] and rerun["quarantined"] == []
    events = rows(db, "SELECT COUNT(*) FROM ink_case_event WHERE case_id = :c", c=case_id)
    assert events[0][0] == 1  # the receipt, once; nothing of the poison file
