"""The Alembic migrations build exactly the tables schema.py declares, and go back down cleanly."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory

from inkasso.db.engine import engine_for_url
from inkasso.db.migrate import VERSION_TABLE, alembic_config, current_revision, upgrade
from inkasso.db.schema import pipeline_metadata


def test_migrations_match_the_declared_tables_and_downgrade(erp_url):
    engine = engine_for_url(erp_url)
    upgrade(engine)
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"version_table": VERSION_TABLE})
        assert compare_metadata(context, pipeline_metadata) == []
    command.downgrade(alembic_config(engine), "base")
    assert set(sa.inspect(engine).get_table_names()) == {VERSION_TABLE}
    upgrade(engine)  # and up again
    assert set(pipeline_metadata.tables) <= set(sa.inspect(engine).get_table_names())
    engine.dispose()


def _case_world(conn, agreements=("a1", "a2")) -> None:
    """Two agreements of client 1, a new-case file each, one case with an event in the first."""
    for agreement_id in agreements:
        conn.execute(
            sa.text(
                "INSERT INTO ink_agreement (agreement_id, client_id, agency, country,"
                " customer_no_at_agency, agency_bank_account, mode)"
                " VALUES (:a, 1, 'lowell', 'NO', 'C1', '1234', 'manual')"
            ),
            {"a": agreement_id},
        )
        conn.execute(
            sa.text(
                "INSERT INTO ink_file_log (client_id, agreement_id, direction, kind, file_name,"
                " business_date, status, path, sha256, size_bytes, record_count, amount_total,"
                " created_at) VALUES (1, :a, 'out', 'new_cases', :a, '2026-11-02', 'written',"
                " 'p', 'x', 0, 1, 100, '2026-11-02 05:00:00')"
            ),
            {"a": agreement_id},
        )


def _insert_case(conn, agreement_id: str, file_id: int) -> int:
    return conn.execute(
        sa.text(
            "INSERT INTO ink_case (agreement_id, invoice_id, customer_id, file_id, status,"
            " original_amount, sent_amount, currency, business_date, opened_at)"
            " VALUES (:a, 7, 3, :f, 'sent', 100, 100, 'NOK', '2026-11-02', '2026-11-02 05:00:00')"
            " RETURNING case_id"
        ),
        {"a": agreement_id, "f": file_id},
    ).scalar_one()


def _head(engine) -> str:
    """The newest migration."""
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def _file_of(conn, agreement_id: str) -> int:
    return conn.execute(
        sa.text("SELECT file_id FROM ink_file_log WHERE agreement_id = :a"), {"a": agreement_id}
    ).scalar_one()


def test_a_case_names_a_file_of_its_own_agreement(erp_url):
    """A case is sent in a file of its agreement: a case naming another agreement's file, or a
    file that does not exist, is refused by the database (0009: one key on both)."""
    engine = engine_for_url(erp_url)
    upgrade(engine)
    with engine.begin() as conn:
        _case_world(conn)
        _insert_case(conn, "a1", _file_of(conn, "a1"))
    for agreement_id, file_id in (("a2", "a1"), ("a1", None), ("nobody", "a1")):
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            file_id = _file_of(conn, file_id) if file_id else 999
            _insert_case(conn, agreement_id, file_id)
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:  # its file stays
        conn.execute(sa.text("DELETE FROM ink_file_log WHERE agreement_id = 'a1'"))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM ink_case")).scalar_one() == 1
    engine.dispose()


def test_the_case_keys_migrate_with_cases_and_their_events_in_place(erp_url):
    """Upgrading to 0009 and back keeps every case and the rows that refer to them."""
    engine = engine_for_url(erp_url)
    upgrade(engine, "0008_delivery_claim")
    with engine.begin() as conn:
        _case_world(conn)
        case_id = _insert_case(conn, "a1", _file_of(conn, "a1"))
        conn.execute(
            sa.text(
                "INSERT INTO ink_case_event (case_id, at, kind) VALUES (:c, '2026-11-02', 'opened')"
            ),
            {"c": case_id},
        )
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0008_delivery_claim")
    upgrade(engine)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "SELECT k.case_id, e.kind FROM ink_case k JOIN ink_case_event e"
                " ON e.case_id = k.case_id"
            )
        ).all()
        assert [tuple(r) for r in rows] == [(case_id, "opened")]
    engine.dispose()


def test_an_sqlite_migration_refuses_to_commit_rows_without_their_parent(tmp_path):
    """SQLite migrates with its foreign keys off (to rebuild tables others refer to): every key
    is checked before the migration commits, and a row without its parent stops it."""
    import sqlite3

    path = tmp_path / "erp.sqlite"
    engine = engine_for_url(f"sqlite:///{path}")
    upgrade(engine, "0008_delivery_claim")
    engine.dispose()
    raw = sqlite3.connect(path)  # foreign keys off: an event of a case that does not exist
    raw.execute("INSERT INTO ink_case_event (case_id, at, kind) VALUES (999, '2026-11-02', 'x')")
    raw.commit()
    raw.close()
    with pytest.raises(RuntimeError, match="without their parent"):
        upgrade(engine)
    assert current_revision(engine) == "0008_delivery_claim"  # nothing of 0009 committed
    with engine.begin() as conn:  # once the row is dealt with, the same migration goes through
        conn.execute(sa.text("DELETE FROM ink_case_event WHERE case_id = 999"))
    upgrade(engine)
    assert (
        current_revision(engine)
        == ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
    )
    engine.dispose()


def _insert_correction(conn, agreement_id: str, file_id: int | None, case_id: int) -> None:
    conn.execute(
        sa.text(
            "INSERT INTO ink_correction (case_id, agreement_id, source, source_id,"
            " correction_type, amount, correction_date, file_id, created_at) VALUES"
            " (:c, :a, 'payment', :s, 'DP', 100, '2026-11-02', :f, '2026-11-03')"
        ),
        {"c": case_id, "a": agreement_id, "s": next(_SOURCE_IDS), "f": file_id},
    )


_SOURCE_IDS = iter(range(1, 1_000_000))


def test_a_correction_names_a_file_of_its_own_agreement(erp_url):
    """A correction is reported in a file of its agreement: another agreement's file, a file
    that does not exist, no file, or an agreement that does not exist is refused (0010)."""
    engine = engine_for_url(erp_url)
    upgrade(engine)
    with engine.begin() as conn:
        _case_world(conn)
        case_id = _insert_case(conn, "a1", _file_of(conn, "a1"))
        _insert_correction(conn, "a1", _file_of(conn, "a1"), case_id)
    for agreement_id, file_of in (("a2", "a1"), ("a1", None), ("nobody", "a1"), ("a1", "none")):
        with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
            file_id = _file_of(conn, file_of) if file_of not in (None, "none") else None
            file_id = 999 if file_of is None else file_id  # a file that does not exist
            _insert_correction(conn, agreement_id, file_id, case_id)
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT COUNT(*) FROM ink_correction")).scalar_one() == 1
    engine.dispose()


def test_the_correction_key_migrates_with_its_rows_and_refuses_a_row_without_a_file(erp_url):
    """Upgrading to 0010 and back keeps every correction; a correction without a file (which
    the new key could not tie to its agreement) stops the upgrade, named, with nothing done."""
    engine = engine_for_url(erp_url)
    upgrade(engine, "0009_case_write_cost")
    with engine.begin() as conn:
        _case_world(conn)
        case_id = _insert_case(conn, "a1", _file_of(conn, "a1"))
        _insert_correction(conn, "a1", _file_of(conn, "a1"), case_id)
        _insert_correction(conn, "a1", None, case_id)
    with pytest.raises(RuntimeError, match="1 rows without a file"):
        upgrade(engine)
    assert current_revision(engine) == "0009_case_write_cost"
    with engine.begin() as conn:
        conn.execute(sa.text("DELETE FROM ink_correction WHERE file_id IS NULL"))
    upgrade(engine)
    command.downgrade(alembic_config(engine), "0009_case_write_cost")
    upgrade(engine)
    assert current_revision(engine) == _head(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT case_id, agreement_id FROM ink_correction")).all()
        assert [tuple(r) for r in rows] == [(case_id, "a1")]
    engine.dispose()


def test_a_files_events_and_its_key_check_use_an_index(erp_url):
    """Deleting a file-log row checks that no event names it, and a file's events are read by
    delivery and the view: both find them through an index, not a scan of every event (0011)."""
    engine = engine_for_url(erp_url)
    upgrade(engine)
    sql = "SELECT 1 FROM ink_case_event WHERE file_id = 7"
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(sa.text("SET LOCAL enable_seqscan = off"))  # as on a big table
            plan = conn.execute(sa.text(f"EXPLAIN {sql}")).scalars().all()
        else:
            plan = [r[-1] for r in conn.execute(sa.text(f"EXPLAIN QUERY PLAN {sql}"))]
    assert any("ix_ink_case_event_file_id" in line for line in plan), plan
    engine.dispose()


def test_closure_events_get_their_amounts_from_their_text_when_migrating_to_0014(erp_url):
    """0014 fills a closure event's integer totals from the text the inbound apply wrote
    (``collected <øre>, remaining <øre>``; ``<NA>``, left blank by the file, stays NULL); an
    event of another kind or without totals gets none, whatever its text says."""
    engine = engine_for_url(erp_url)
    upgrade(engine, "0013_bank_notices")
    events = [
        ("partly_paid", "collected 30000, remaining 70000, closed 2026-11-03 (Avsl.txt)"),
        ("collected_after_closure", "after the case was closed as paid: collected 120050,"
         " remaining 0, closed 2026-11-04 (Avsl.txt); settled 20050 on invoice"),
        ("uncollectible", "collected <NA>, remaining 5000, closed 2026-11-03 (Avsl.txt)"),
        ("paid", "closed by the agency"),  # no totals in its text
        ("closure_ignored", "closure ignored, the case is already paid"),
        ("registered", "agency reference collected 7, remaining 8 (Kvitt.txt)"),
    ]  # fmt: skip
    with engine.begin() as conn:
        _case_world(conn)
        case_id = _insert_case(conn, "a1", _file_of(conn, "a1"))
        for kind, detail in events:
            conn.execute(
                sa.text(
                    "INSERT INTO ink_case_event (case_id, at, kind, detail)"
                    " VALUES (:c, '2026-11-03', :k, :d)"
                ),
                {"c": case_id, "k": kind, "d": detail},
            )
    upgrade(engine)
    sql = "SELECT kind, collected_amount, remaining_amount FROM ink_case_event ORDER BY event_id"
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(sa.text(sql))]
    assert rows == [
        ("partly_paid", 30000, 70000),
        ("collected_after_closure", 120050, 0),
        ("uncollectible", None, 5000),
        ("paid", None, None),
        ("closure_ignored", None, None),
        ("registered", None, None),
    ]
    command.downgrade(alembic_config(engine), "0013_bank_notices")
    assert "collected_amount" not in {
        c["name"] for c in sa.inspect(engine).get_columns("ink_case_event")
    }
    upgrade(engine)
    engine.dispose()
