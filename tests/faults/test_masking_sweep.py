"""A sweep of crafted agency answers: national ids in every text field an agency fills in, in every
written form, through inbound and the report. None may appear unmasked in the task log, the report
mail, a quarantine reason or what the Inkasso view shows of the ``ink_`` tables.

The text fields of the agencies' receipts and closures are the rejection reason and code, the
agency's case reference and the header's customer number (the layouts have no name or remark
field); each gets ids, and some files are broken so that their ids reach a quarantine reason.
"""

from __future__ import annotations

import logging
from datetime import date

import pytest
from sqlalchemy import text

from tests.inkasso.inbound.test_inbound_apply import (  # noqa: F401  (fixtures)
    DAY,
    LOWELL,
    base,
    build,
    closure,
    db,
    deliver,
    receipt,
)

# the same person's id in every form it is written in: Norwegian 11 digits with and without a
# space, DDMMYY-NNNN, Swedish YYMMDD-NNNN / +NNNN, with century (YYYYMMDD-NNNN, YYYYMMDDNNNN)
# and without (YYMMDDNNNN)
FORMS = [
    "01018012345",
    "010180 12345",
    "010180-1234",
    "800101-1234",
    "800101+1234",
    "19800101-1234",
    "198001011234",
    "8001011234",
]


def _reasons() -> list[str]:
    """Rejection texts (60 characters each at most) that carry every form between them."""
    return [f"Avvist: pnr {FORMS[i]} / {FORMS[i + 1]}" for i in range(0, len(FORMS), 2)]


def _crafted_files() -> list[tuple[str, bytes]]:
    """Receipts and closures of Lowell NO with ids in each text field, some of them broken."""
    files = []
    reasons = _reasons()
    # 1. rejections with ids in the reason (two cases) and an id as the agency's reference
    rows = [
        receipt(101, status="R", code="X1", reason=reasons[0]),
        receipt(102, status="R", code="X2", reason=reasons[1]),
        receipt(103, ref="01018012345"),
    ]
    files.append(build(LOWELL, "receipt", rows))
    # 2. a receipt for an unknown case quoting the id in the reason: quarantined
    name, data = build(LOWELL, "receipt", [receipt(999, status="R", code="X3", reason=reasons[2])])
    files.append((name.replace("0540", "0541"), data))
    # 3. a receipt whose header customer number is an id (10 digits): quarantined
    name, data = build(LOWELL, "receipt", [receipt(101, status="R", reason=reasons[3])])
    data = data.replace(b"40012     ", b"8001011234", 1)
    files.append((name.replace("0540", "0542"), data))
    # 4. a receipt with a control character after an id in the reason: a format error quoting it
    name, data = build(LOWELL, "receipt", [receipt(102, status="R", reason=reasons[0])])
    data = data.replace(b"Avvist", b"Av\x00ist", 1)
    files.append((name.replace("0540", "0543"), data))
    # 5. a closure whose agency reference is an id the case does not have: quarantined
    name, data = build(LOWELL, "closure", [closure(103, ref="19800101-1234")])
    files.append((name, data))
    return files


def _ui_views(engine) -> str:
    """What the Inkasso view shows of every case and file (list and detail pages)."""
    from inkasso.ui.queries import (
        CaseFilter,
        FileFilter,
        case_detail,
        file_detail,
        list_cases,
        list_files,
    )

    today = date(2026, 11, 11)
    shown = []
    with engine.connect() as conn:
        cases = list_cases(conn, CaseFilter(), today=today, page_size=100).rows
        files = list_files(conn, FileFilter(), page_size=100).rows
        shown += [repr(cases), repr(files)]
        shown += [repr(case_detail(conn, c["case_id"], today=today)) for c in cases]
        shown += [repr(file_detail(conn, f["file_id"])) for f in files]
    return "\n".join(shown)


def _mail(engine) -> str:
    from inkasso.report.gather import gather_client_day
    from inkasso.report.render import render_report

    rendered = render_report(gather_client_day(engine, LOWELL.client_id, DAY))
    return "\n".join([rendered.subject, rendered.text, rendered.html])


def _detail_columns(engine) -> str:
    """The free-text columns of the ink_ tables a person reads (view, mail, exports)."""
    sql = [
        "SELECT rejection_reason FROM ink_case",
        "SELECT detail FROM ink_case_event",
        "SELECT reason FROM ink_file_issue",
        "SELECT detail FROM ink_file_log",
    ]
    with engine.connect() as conn:
        return "\n".join(repr(conn.execute(text(s)).all()) for s in sql)


def _unmasked(shown: str) -> list[str]:
    return [form for form in FORMS if form in shown]


def test_ids_in_every_agency_text_field_are_masked_wherever_they_are_shown(
    db,  # noqa: F811
    base,  # noqa: F811
    caplog,
):
    results = []
    with caplog.at_level(logging.DEBUG):
        for name, data in _crafted_files():
            results.append(deliver(db, base, LOWELL, name, data))
        mail = _mail(db)
    applied = [a["file_name"] for r in results for a in r["applied"]]
    quarantined = [q for r in results for q in r["quarantined"]]
    assert len(applied) == 1 and len(quarantined) == 4, results  # every crafted file was read

    assert _unmasked(caplog.text) == [], "task log"
    assert _unmasked(repr(results)) == [], "task results (XCom)"
    assert _unmasked(mail) == [], "report mail"
    assert _unmasked(_detail_columns(db)) == [], "detail columns of the ink_ tables"
    ui = _ui_views(db)
    assert _unmasked(ui) == [], [
        ui[max(0, ui.find(f) - 200) : ui.find(f) + 40] for f in _unmasked(ui)
    ]
    # masked, not dropped: the birth date stays, for a person to find the case
    assert "010180*****" in mail and "800101****" in caplog.text


@pytest.mark.parametrize("form", FORMS)
def test_a_rejection_reason_with_an_id_is_shown_masked_on_the_case_page(
    form,
    db,  # noqa: F811
    base,  # noqa: F811
):
    name, data = build(LOWELL, "receipt", [receipt(101, status="R", code="X1", reason=form)])
    deliver(db, base, LOWELL, name, data)
    shown = _ui_views(db) + _mail(db)
    assert form not in shown
    assert form[:6] + "*" * (len(form) - 6) in shown


def test_a_column_of_texts_is_masked_like_each_text_and_missing_values_stay_missing():
    import pandas as pd

    from inkasso.masking import mask_series, mask_text

    texts = pd.Series([f"pnr {form}" for form in FORMS] + [None, "", "L101"], dtype=object)
    masked = mask_series(texts)
    assert masked[: len(FORMS)].tolist() == [mask_text(t) for t in texts[: len(FORMS)]]
    assert masked[len(FORMS) :].tolist() == [None, "", "L101"]
