"""A bank file read in chunks of a few records books exactly what the whole file books, and an
error found in its last chunk books nothing of it (SQLite and PostgreSQL)."""

from __future__ import annotations

import datetime as dt
from contextlib import contextmanager

import pandas as pd
import pytest
from pg import drop_postgres, new_postgres_url
from sqlalchemy import text

from inkasso.bank.bgmax import write_bgmax
from inkasso.bank.importer import import_bank_file
from inkasso.bank.model import payments_frame
from tests.db_helpers import receive_at_example_accounts

DAY = dt.date(2026, 11, 2)
NOW = dt.datetime(2026, 11, 2, 3, tzinfo=dt.UTC)
CLIENT, AGREEMENT = 4, "lowell_se"


@contextmanager
def demo_database(url: str):
    """A demo ERP (seed 7, 400 customers) with the pipeline's migrations, at ``url``."""
    from inkasso.db.engine import engine_for_url
    from inkasso.db.migrate import upgrade
    from inkasso.db.schema import erp_metadata
    from inkasso_demo.erp.generator import create_demo_erp

    engine = engine_for_url(url)
    erp_metadata.create_all(engine)
    upgrade(engine)
    create_demo_erp(engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@contextmanager
def twin_database(erp_url: str, tmp_path):
    """A second demo ERP on the same kind of database as ``erp_url``."""
    if erp_url.startswith("sqlite"):
        with demo_database(f"sqlite:///{tmp_path / 'twin.sqlite'}") as engine:
            yield engine
        return
    url = new_postgres_url()
    try:
        with demo_database(url) as engine:
            yield engine
    finally:
        drop_postgres(url)


def query(engine, sql: str, **params) -> pd.DataFrame:
    with engine.connect() as conn:
        return pd.DataFrame(conn.execute(text(sql), params).mappings().all())


def payments_file(engine) -> bytes:
    """A BgMax file of 11 payments: whole and part payments, two on one invoice far apart (so in
    different chunks), unknown references, reversals and agency payouts."""
    owed = query(
        engine,
        "SELECT kid, remaining_amount FROM erp_invoice WHERE client_id = :c AND status = 'open' "
        "AND remaining_amount > 1000 ORDER BY invoice_id",
        c=CLIENT,
    ).head(5)
    agency = query(
        engine, "SELECT agency_bank_account AS a FROM ink_agreement WHERE agreement_id = :a",
        a=AGREEMENT,
    )["a"][0]  # fmt: skip
    kid, amount = owed["kid"].tolist(), [int(a) for a in owed["remaining_amount"]]
    plan = [
        (kid[0], amount[0], "1234567"),
        (kid[1], 300, "1234567"),
        ("99999999999", 12_300, "1234567"),
        (kid[2], amount[2] // 2, "2345678"),
        ("", 50_000, agency),
        (kid[3], amount[3], "1234567"),
        (kid[1], 700, "1234567"),
        (kid[4], -2_000, "1234567"),
        ("", 20_000, agency),
        (kid[2], amount[2] - amount[2] // 2, "2345678"),
        (kid[4], 5_000, "1234567"),
    ]
    rows = [
        {
            "payment_ref": f"P{n}",
            "payer_account": payer,
            "reference": ref,
            "amount": amount,
            "payment_date": DAY - dt.timedelta(days=1),
            "payee_account": "58410000010098",
            "currency": "SEK",
            "payer_name": "",
            "line": 0,
        }  # fmt: skip
        for n, (ref, amount, payer) in enumerate(plan)
    ]
    return write_bgmax(
        payments_frame(rows), payee_bankgiro="9912346", written_at=dt.datetime(2026, 11, 2, 3)
    )


def records(engine, sql: str, **params) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def booked(engine) -> dict:
    """What the import left behind: payments, invoices, payouts, file log."""
    return {
        "payments": records(
            engine,
            "SELECT invoice_id, bank_file, payment_ref, payer_account, reference, amount, "
            "kind, method FROM erp_payment ORDER BY payment_ref",
        ),  # fmt: skip
        "invoices": records(
            engine,
            "SELECT invoice_id, status, remaining_amount FROM erp_invoice "
            "WHERE client_id = :c ORDER BY invoice_id",
            c=CLIENT,
        ),  # fmt: skip
        "payouts": records(
            engine, "SELECT agreement_id, amount, payment_date FROM ink_payout ORDER BY amount"
        ),
        "files": records(
            engine, "SELECT file_name, status, record_count, amount_total, sha256 FROM ink_file_log"
        ),
    }


def run(engine, base, data, chunk_rows):
    return import_bank_file(
        engine, CLIENT, "BGMAX.chunks.txt", data, business_date=DAY, base=base, now=NOW,
        run_id="test", chunk_rows=chunk_rows,
    )  # fmt: skip


@pytest.mark.parametrize("chunk_rows", [2, 3])
def test_a_file_read_in_chunks_books_what_the_whole_file_books(
    erp_url, erp_engine, tmp_path, chunk_rows
):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    data = payments_file(erp_engine)
    path = tmp_path / "drop" / "BGMAX.chunks.txt"
    path.parent.mkdir()
    path.write_bytes(data)
    with twin_database(erp_url, tmp_path) as whole_engine:
        whole = run(whole_engine, tmp_path / "whole", data, chunk_rows=1_000_000)
        expected = booked(whole_engine)

    chunked = run(erp_engine, tmp_path / "chunked", path, chunk_rows=chunk_rows)

    assert chunked == whole
    assert chunked["status"] == "applied" and chunked["payments"] == 11
    assert booked(erp_engine) == expected
    # the two payments on one invoice in different chunks are summed once: paid in full
    assert len([p for p in expected["payments"] if p["kind"] == "direct"]) == 8
    archived = tmp_path / "chunked" / "inbound" / "bank" / str(CLIENT) / DAY.isoformat()
    assert (archived / "BGMAX.chunks.txt").read_bytes() == data


def test_an_error_in_the_last_chunk_books_nothing_of_the_file(erp_engine, tmp_path):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    before = booked(erp_engine)
    good = payments_file(erp_engine)
    lines = good.split(b"\r\n") if b"\r\n" in good else good.split(b"\n")
    last = max(n for n, line in enumerate(lines) if line.startswith(b"20"))
    lines[last] = lines[last][:50] + b"x" + lines[last][51:]  # inside the amount
    broken = (b"\r\n" if b"\r\n" in good else b"\n").join(lines)
    path = tmp_path / "BGMAX.chunks.txt"
    path.write_bytes(broken)

    result = run(erp_engine, tmp_path, path, chunk_rows=3)

    assert result["status"] == "quarantined"
    assert (result["line"], result["field"]) == (last + 1, "amount")
    assert "BGMAX.chunks.txt" in result["error"]
    after = booked(erp_engine)
    assert after["payments"] == [] and after["payouts"] == []
    assert after["invoices"] == before["invoices"]
    assert [f["status"] for f in after["files"]] == ["quarantined"]
    quarantined = tmp_path / "quarantine" / "bank" / str(CLIENT) / "BGMAX.chunks.txt"
    assert quarantined.read_bytes() == broken
    # nothing of the broken file is left staged: the good file is booked in full after it
    good_path = tmp_path / "BGMAX.good.txt"
    good_path.write_bytes(good)
    fixed = import_bank_file(
        erp_engine, CLIENT, "BGMAX.good.txt", good_path, business_date=DAY, base=tmp_path,
        now=NOW, chunk_rows=3,
    )  # fmt: skip
    assert (fixed["status"], fixed["payments"]) == ("applied", 11)
    assert len(booked(erp_engine)["payments"]) == 11


def test_ocr_giro_reference_files_read_in_chunks_book_their_control_records(
    erp_engine, tmp_path, reference_dir
):
    from inkasso_demo.erp.generator import create_demo_erp

    create_demo_erp(erp_engine, seed=7, customers=400, start_day=DAY)
    receive_at_example_accounts(erp_engine)
    folder = reference_dir / "ocr-giro"

    def chunked(name):
        return import_bank_file(
            erp_engine, 1, name, folder / name, business_date=DAY, base=tmp_path, now=NOW,
            chunk_rows=4,
        )  # fmt: skip

    result = chunked("ocr_giro_transactions.txt")
    assert (result["status"], result["payments"], result["amount"]) == ("applied", 20, 5_144_900)
    for name in ("avtalegiro_agreements.txt", "avtalegiro_payment_request.txt"):
        assert chunked(name)["status"] == "ignored"
    payments = records(erp_engine, "SELECT COUNT(*) AS n, SUM(amount) AS total FROM erp_payment")
    assert payments == [{"n": 20, "total": 5_144_900}]
