"""National ids in crafted agency answers never reach a task log, a file issue or an error
unmasked: one ``mask_text`` for every form (Norwegian with a space, Swedish with - or +, 10 or
12 digits), a masking filter on every ``inkasso`` logger, and masked format errors."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import text

from inkasso.formats import FormatError, load_layout
from inkasso.masking import mask_text
from tests.inkasso.inbound.test_inbound_apply import (  # noqa: F401  (fixtures)
    LOWELL,
    base,
    build,
    db,
    deliver,
    receipt,
)

FNR = "01018012345"  # a Norwegian fødselsnummer's shape
SPACED = "010180 12345"
SWEDISH = ["800101-1234", "800101+1234", "198001011234", "19800101-1234", "8001011234"]
ALL_FORMS = [FNR, SPACED, *SWEDISH]


@pytest.mark.parametrize("national_id", ALL_FORMS)
def test_every_form_is_masked_to_its_birth_date(national_id):
    masked = mask_text(f"Avvist: debitor {national_id}, ukjent adresse")
    assert national_id not in masked
    assert f"debitor {national_id[:6]}{'*' * (len(national_id) - 6)}," in masked


@pytest.mark.parametrize("not_an_id", ["KID 123456789", "beløp 12 345,00", "sak 2026-11-02"])
def test_numbers_that_cannot_be_ids_are_left_alone(not_an_id):
    assert mask_text(not_an_id) == not_an_id


def test_any_inkasso_logger_masks_its_records(caplog):
    log = logging.getLogger("inkasso.some.module")
    with caplog.at_level(logging.INFO):
        log.warning("rejected: %s", f"fnr {SPACED}")
        try:
            raise ValueError(f"bad id {FNR}")
        except ValueError:
            log.exception("failed on %s", "800101-1234")
    assert SPACED not in caplog.text and FNR not in caplog.text
    assert "800101-1234" not in caplog.text
    assert "010180******" in caplog.text and "800101*****" in caplog.text


def test_a_format_error_quoting_the_file_masks_the_id():
    layout = load_layout("lowell.receipt")
    data = layout.write({"customer_no": "40012", "file_date": "2026-11-10"}, [receipt(101)])
    lines = data.split(b"\r\n")
    lines[1] = lines[1][:39] + f"{FNR}\x01".encode() + lines[1][39 + 12 :]  # reason_text
    with pytest.raises(FormatError) as raised:
        layout.read(b"\r\n".join(lines), "Kvitt_40012.txt")
    assert FNR not in str(raised.value) and FNR not in raised.value.reason
    assert "010180*****" in str(raised.value)


def rows(engine, sql):
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(sql))]


def test_crafted_answers_leave_no_id_in_the_log_or_the_issues(db, base, caplog):  # noqa: F811
    # a rejection whose reason text carries ids in every form, and a broken file quoting one
    reason = f"fnr {SPACED} / {FNR} / pnr 19800101-1234"
    name, data = build(LOWELL, "receipt", [receipt(101, status="R", code="X1", reason=reason)])
    broken_name, good = build(LOWELL, "receipt", [receipt(102, status="R", code="X1", reason="x")])
    broken_name = broken_name.replace("0540", "0541")
    lines = good.split(b"\r\n")
    lines[1] = lines[1][:39] + f"{FNR}\x00".encode() + lines[1][39 + 12 :]
    with caplog.at_level(logging.DEBUG):
        applied = deliver(db, base, LOWELL, name, data)
        quarantined = deliver(db, base, LOWELL, broken_name, b"\r\n".join(lines))

    assert len(applied["applied"]) == 1
    assert [q["file_name"] for q in quarantined["quarantined"]] == [broken_name]
    shown = caplog.text + repr(applied) + repr(quarantined)
    shown += repr(rows(db, "SELECT reason FROM ink_file_issue"))
    shown += repr(rows(db, "SELECT detail FROM ink_file_log"))
    for national_id in (FNR, SPACED, "19800101-1234"):
        assert national_id not in shown
    assert "010180*****" in shown  # the issue is still there, with the birth date
