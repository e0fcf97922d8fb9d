"""Reading in chunks: a file read a few lines at a time gives the records of the whole-file read,
and a broken file is still rejected, the whole-file checks (trailer counts and sums, header and
trailer in place) made across chunks before the last chunk is handed out."""

from __future__ import annotations

import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.cli import format_names
from inkasso.formats import FormatError, load_layout
from tests.inkasso.formats.test_fuzz_readers import _encoding, _mutate, mutations, seeds

LAYOUTS = [name for name in format_names() if name != "ocr_giro"]


def _valid_seeds(name: str) -> list[bytes]:
    """The fuzz test's seeds that are whole files (some reference pieces lack a start record)."""
    layout, found = load_layout(name), []
    for data in seeds(name):
        try:
            layout.read(data, "seed")
        except FormatError:
            continue
        found.append(data)
    return found


def _chunked(layout, data: bytes, rows: int) -> tuple[dict[str, pd.DataFrame], list]:
    """Every record type's rows over all chunks (with lines), and the chunks themselves."""
    chunks = list(layout.iter_chunks(io.BytesIO(data), "f.txt", chunk_rows=rows))
    frames = {}
    for rtype in layout.records:
        parts = [c.details(rtype, with_line=True) for c in chunks if c.count(rtype)]
        if parts:
            frames[rtype] = pd.concat(parts, ignore_index=True)
    return frames, chunks


def _whole(layout, data: bytes) -> dict[str, pd.DataFrame]:
    parsed = layout.read(data, "f.txt")
    return {t: parsed.details(t, with_line=True) for t in layout.records if parsed.count(t)}


def _same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    assert a.keys() == b.keys()
    for rtype in a:
        left = a[rtype].astype(object).where(a[rtype].notna(), None)
        right = b[rtype].astype(object).where(b[rtype].notna(), None)
        assert left.to_dict("records") == right.to_dict("records"), rtype


@pytest.mark.parametrize("name", LAYOUTS)
@pytest.mark.parametrize("rows", [1, 2, 3, 1000])
def test_chunks_hold_the_records_of_the_whole_file(name, rows):
    layout = load_layout(name)
    for data in _valid_seeds(name):
        frames, chunks = _chunked(layout, data, rows)
        _same(frames, _whole(layout, data))
        whole = layout.read(data, "f.txt")
        assert all(c.header == whole.header for c in chunks)
        assert chunks[-1].last and chunks[-1].trailer == whole.trailer
        assert all(not c.last and c.trailer == {} for c in chunks[:-1])
        assert all(c.rows <= rows for c in chunks)


@pytest.mark.parametrize("name", LAYOUTS)
def test_mutated_files_are_read_alike_whole_and_in_chunks(name):
    """Whatever the bytes: accepted whole iff accepted in chunks, with the same records."""
    layout, files = load_layout(name), seeds(name)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.sampled_from(files), mutations(_encoding(name)), st.integers(1, 4))
    def check(seed, ops, rows):
        data = _mutate(seed, ops, _encoding(name))
        try:
            whole = _whole(layout, data)
        except FormatError:
            with pytest.raises(FormatError) as raised:
                _chunked(layout, data, rows)
            assert raised.value.file_name == "f.txt"
            return
        _same(_chunked(layout, data, rows)[0], whole)

    check()


def _bgmax_lines(reference_dir) -> list[bytes]:
    """The sample's records, up to its end record (the blank lines after it left out)."""
    lines = (reference_dir / "bgmax" / "BgMaxfil4.txt").read_bytes().splitlines(keepends=True)
    return [line for line in lines if line.strip()]


def test_a_trailer_count_wrong_is_found_across_chunks_before_the_last_chunk(reference_dir):
    lines = _bgmax_lines(reference_dir)
    end = next(i for i, line in enumerate(lines) if line.startswith(b"70"))
    lines[end] = b"7000000099" + lines[end][10:]  # the end record claims 99 payments
    got = []
    with pytest.raises(FormatError) as raised:
        for chunk in load_layout("bgmax").iter_chunks(b"".join(lines), "B.txt", chunk_rows=3):
            got.append(chunk)
    assert (raised.value.line, raised.value.field) == (end + 1, "payment_count")
    assert got and not any(c.last for c in got)


def test_a_record_after_the_trailer_in_a_later_chunk_is_rejected(reference_dir):
    lines = _bgmax_lines(reference_dir)
    data = b"".join(lines) + lines[1]  # a deposit opening after the end record
    with pytest.raises(FormatError, match="record after the trailer") as raised:
        for _ in load_layout("bgmax").iter_chunks(data, "B.txt", chunk_rows=len(lines)):
            pass
    assert raised.value.line == len(lines) + 1


def test_a_nul_is_named_with_line_and_field_in_a_later_chunk(reference_dir):
    lines = _bgmax_lines(reference_dir)
    at = next(i for i, line in enumerate(lines) if line.startswith(b"26"))
    lines[at] = lines[at][:5] + b"\x00" + lines[at][6:]
    with pytest.raises(FormatError) as raised:
        list(load_layout("bgmax").iter_chunks(b"".join(lines), "B.txt", chunk_rows=2))
    assert (raised.value.line, raised.value.field) == (at + 1, "name")
    assert "control character" in raised.value.reason


def test_a_file_is_read_from_its_path_in_chunks(tmp_path, reference_dir):
    path = tmp_path / "BgMaxfil4.txt"
    path.write_bytes((reference_dir / "bgmax" / "BgMaxfil4.txt").read_bytes())
    layout = load_layout("bgmax")
    frames, _ = _chunked(layout, path.read_bytes(), 4)
    from_path = list(layout.iter_chunks(path, chunk_rows=4))
    assert sum(c.count("payment") for c in from_path) == len(frames["payment"])
    assert from_path[0].file_name == str(path)
