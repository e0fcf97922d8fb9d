"""Two files made in the same minute never share a name (Preventia names files to the minute)."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import sqlalchemy as sa

DAY = date(2026, 11, 2)


def test_same_minute_files_get_distinct_names_and_neither_is_overwritten(erp_engine, tmp_path):
    from airflow.sdk import ObjectStoragePath

    from inkasso.agreements import load_agreements
    from inkasso.dispatch import prepare_new_cases
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    (preventia,) = load_agreements(erp_engine, agreement_id="preventia")
    base = ObjectStoragePath(f"file://{tmp_path}")
    now = datetime(2026, 11, 3, 4, 0, 30, tzinfo=UTC)
    first = prepare_new_cases(
        erp_engine, preventia, DAY, datetime(2026, 11, 2, 4, tzinfo=UTC), base, now=now
    )
    with erp_engine.begin() as conn:  # the next day, more invoices are marked
        ids = (
            conn.execute(
                sa.text(
                    "SELECT invoice_id FROM erp_invoice WHERE client_id = :c AND status = 'open' "
                    "AND marked_for_collection = :n AND disputed = :n AND remaining_amount >= 20000 "
                    "ORDER BY invoice_id"
                ),
                {"c": preventia.client_id, "n": False},
            )
            .scalars()
            .all()[:30]
        )
        conn.execute(
            sa.text(
                "UPDATE erp_invoice SET marked_for_collection = :y, marked_at = :at WHERE invoice_id IN :ids"
            ).bindparams(sa.bindparam("ids", expanding=True)),
            {"y": True, "at": datetime(2026, 11, 2, 12, tzinfo=UTC), "ids": ids},
        )
    second = prepare_new_cases(
        erp_engine,
        preventia,
        date(2026, 11, 3),
        datetime(2026, 11, 3, 4, tzinfo=UTC),
        base,
        now=now,
    )
    assert first["status"] == second["status"] == "written"
    assert first["file_name"] != second["file_name"]
    with erp_engine.connect() as conn:
        logged = conn.execute(
            sa.text("SELECT path, sha256 FROM ink_file_log ORDER BY file_id")
        ).all()
    assert len(logged) == 2
    for path, sha in logged:  # each file at rest is still the one its log row describes
        assert hashlib.sha256(ObjectStoragePath(path).read_bytes()).hexdigest() == sha
