"""Bank files read in chunks: the payments of all chunks are those of the whole-file read, the
controls come with the last chunk, and a broken file is rejected, even when what breaks it (a
deposit's count, an end record) lies chunks away from the records it counts."""

from __future__ import annotations

import datetime
import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.bank.bgmax import iter_bgmax, read_bgmax, write_bgmax
from inkasso.bank.detect import iter_bank_file, read_bank_file
from inkasso.bank.model import BankFileError
from inkasso.bank.ocr_giro import iter_ocr_giro, read_ocr_giro
from tests.inkasso.bank.test_bgmax import _payments
from tests.inkasso.formats.test_fuzz_readers import _mutate, mutations, seeds


def _joined(chunks) -> tuple[pd.DataFrame, object]:
    chunks = list(chunks)
    assert chunks[-1].last and not any(c.last for c in chunks[:-1])
    assert [c.index for c in chunks] == list(range(len(chunks)))
    return pd.concat([c.payments for c in chunks], ignore_index=True), chunks[-1]


def _same_as_whole(whole, chunks) -> None:
    payments, last = _joined(chunks)
    assert payments.equals(whole.payments)
    assert (last.kind, last.control_count, last.control_amount, last.created) == (
        whole.kind,
        whole.control_count,
        whole.control_amount,
        whole.created,
    )


@pytest.mark.parametrize("rows", [1, 2, 3, 7, 100_000])
def test_bgmax_sample_in_chunks_is_the_whole_file(reference_dir, rows):
    data = (reference_dir / "bgmax" / "BgMaxfil4.txt").read_bytes()
    # names (26) and extra references (22) follow their payment, across a chunk's end too
    _same_as_whole(read_bgmax(data, "B.txt"), iter_bgmax(io.BytesIO(data), "B.txt", rows))


@pytest.mark.parametrize("rows", [1, 2, 5, 100_000])
def test_ocr_giro_samples_in_chunks_are_the_whole_file(reference_dir, rows):
    for path in sorted((reference_dir / "ocr-giro").glob("*.txt")):
        data = path.read_bytes()
        _same_as_whole(read_ocr_giro(data, "O.txt"), iter_ocr_giro(data, "O.txt", rows))


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(_payments(), st.integers(1, 5))
def test_written_bgmax_files_read_alike_in_chunks(frame, rows):
    data = write_bgmax(frame, payee_bankgiro="9912346", written_at=datetime.datetime(2026, 3, 2))
    _same_as_whole(read_bgmax(data, "W.txt"), iter_bgmax(data, "W.txt", rows))


@pytest.mark.parametrize("name", ["bgmax", "ocr_giro"])
def test_mutated_bank_files_are_read_alike_whole_and_in_chunks(name):
    """Whatever the bytes: accepted whole iff accepted in chunks, with the same payments."""
    files = seeds(name)

    @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(files), mutations("iso-8859-1"), st.integers(1, 4))
    def check(seed, ops, rows):
        data = _mutate(seed, ops, "iso-8859-1")
        try:
            whole = read_bank_file(data, "m.txt")
        except BankFileError:
            with pytest.raises(BankFileError) as raised:
                list(iter_bank_file(data, "m.txt", rows))
            assert raised.value.file_name == "m.txt"
            return
        _same_as_whole(whole, iter_bank_file(data, "m.txt", rows))

    check()


def _bgmax(frame_rows: int, per_deposit: int) -> bytes:
    """A BgMax file of ``frame_rows`` payments in deposits of ``per_deposit`` (by date)."""
    days = [datetime.date(2026, 3, 1) + datetime.timedelta(days=i // per_deposit)
            for i in range(frame_rows)]  # fmt: skip
    frame = pd.DataFrame(
        {
            "payment_ref": [f"S{i:05d}" for i in range(frame_rows)],
            "payer_account": "1234567",
            "reference": [str(10_000 + i) for i in range(frame_rows)],
            "amount": [100 + i for i in range(frame_rows)],
            "payment_date": days,
            "payee_account": "58410000010098",
            "currency": "SEK",
            "payer_name": "Åsa",
            "line": 0,
        }
    )
    return write_bgmax(frame, payee_bankgiro="9912346", written_at=datetime.datetime(2026, 3, 2))


def test_a_deposit_count_wrong_is_named_across_chunks():
    lines = _bgmax(12, 6).splitlines(keepends=True)
    second = [i for i, line in enumerate(lines) if line.startswith(b"15")][1]
    lines[second] = lines[second][:71] + b"00000005" + lines[second][79:]  # states 5, holds 6
    data = b"".join(lines)
    with pytest.raises(BankFileError) as whole:
        read_bgmax(data, "B.txt")
    got = []
    with pytest.raises(BankFileError) as chunked:
        for chunk in iter_bgmax(data, "B.txt", chunk_rows=4):
            got.append(chunk)
    assert (chunked.value.line, chunked.value.field) == (whole.value.line, whole.value.field)
    assert (whole.value.line, whole.value.field) == (second + 1, "payment_count")
    assert got and not any(c.last for c in got)  # the last chunk never came


def test_a_payment_left_open_at_the_end_is_named_on_its_line():
    lines = _bgmax(6, 3).splitlines(keepends=True)
    last_deposit = max(i for i, line in enumerate(lines) if line.startswith(b"15"))
    del lines[last_deposit]  # the second section is never closed
    data = b"".join(lines)
    with pytest.raises(BankFileError) as whole:
        read_bgmax(data, "B.txt")
    with pytest.raises(BankFileError) as chunked:
        list(iter_bgmax(data, "B.txt", chunk_rows=2))
    assert (chunked.value.line, chunked.value.reason) == (whole.value.line, whole.value.reason)


def test_repeated_serials_fall_back_to_line_references_in_chunks_too():
    data = _bgmax(4, 4).replace(b"S00003", b"S00001")
    payments, _ = _joined(iter_bgmax(data, "B.txt", chunk_rows=2))
    assert (
        payments["payment_ref"].tolist()
        == read_bgmax(data, "B.txt").payments["payment_ref"].tolist()
    )
    assert payments["payment_ref"].str.startswith("L").all()


def test_a_bank_file_is_read_in_chunks_from_its_path(tmp_path, reference_dir):
    for path in [reference_dir / "bgmax" / "BgMaxfil4.txt",
                 reference_dir / "ocr-giro" / "ocr_giro_transactions.txt"]:  # fmt: skip
        copy = tmp_path / path.name
        copy.write_bytes(path.read_bytes())
        _same_as_whole(read_bank_file(copy.read_bytes(), "P.txt"), iter_bank_file(copy, "P.txt", 3))
    with pytest.raises(BankFileError, match="neither OCR giro"):
        iter_bank_file(b"HELLO\r\n", "x.txt")


def test_blank_lines_after_the_end_record_may_fill_a_chunk_of_their_own(reference_dir):
    data = (reference_dir / "ocr-giro" / "ocr_giro_transactions.txt").read_bytes()
    lines = data.rstrip(b"\r\n").count(b"\n") + 1
    padded = data.rstrip(b"\r\n") + b"\r\n" + b"\x1c\r\n" * 3  # blank to str.strip(), not bytes
    _same_as_whole(read_ocr_giro(data, "O.txt"), iter_ocr_giro(padded, "O.txt", lines))
