"""The BgMax layout reads Bankgirot's own sample files and rejects the broken one."""

from __future__ import annotations

from pathlib import Path

import pytest

from inkasso.config import PROJECT_ROOT
from inkasso.formats import FormatError, load_layout

REFERENCE = PROJECT_ROOT.parent / "shared" / "reference" / "bgmax"


@pytest.fixture(scope="module")
def bgmax_dir() -> Path:
    if not REFERENCE.is_dir():
        pytest.fail(f"reference files missing: expected {REFERENCE} (../shared/reference/bgmax)")
    return REFERENCE


def test_bgmaxfil4_reads_to_the_counts_of_its_end_record(bgmax_dir):
    layout = load_layout("bgmax")
    parsed = layout.read((bgmax_dir / "BgMaxfil4.txt").read_bytes(), "BgMaxfil4.txt")
    assert parsed.header["layout_name"] == "BGMAX" and parsed.header["test_flag"] == "P"
    assert parsed.trailer == {
        "payment_count": 9,
        "deduction_count": 0,
        "extra_reference_count": 13,
        "deposit_count": 4,
    }
    payments = parsed.details("payment")
    deposits = parsed.details("deposit")
    assert len(payments) == 9 and len(deposits) == 4
    # each deposit's amount is the sum of its payments; over the file they agree too
    assert deposits["amount"].sum() == payments["amount"].sum() == 1_260_000
    assert deposits["payment_count"].sum() == 9
    assert payments["reference"].iloc[1] == "524967"
    names = parsed.details("name")["name"].tolist()
    assert "Kalles Plåt AB" in names and "Olles färg AB" in names


def test_minimal_file_with_a_short_end_record(bgmax_dir):
    parsed = load_layout("bgmax").read((bgmax_dir / "minimal.txt").read_bytes(), "minimal.txt")
    assert parsed.details("payment")["amount"].tolist() == [110_000]


def test_broken_file_is_rejected_on_its_end_record(bgmax_dir):
    data = (bgmax_dir / "BgMaxfil4_broken.txt").read_bytes()
    with pytest.raises(FormatError) as caught:
        load_layout("bgmax").read(data, "BgMaxfil4_broken.txt")
    assert (caught.value.line, caught.value.field) == (67, "payment_count")
    assert "trailer says 8, the file has 9" in caught.value.reason


def test_bgmax_round_trip_of_the_sample(bgmax_dir):
    layout = load_layout("bgmax")
    parsed = layout.read((bgmax_dir / "BgMaxfil4.txt").read_bytes(), "BgMaxfil4.txt")
    again = layout.read(layout.write_records([(r.type, r.values) for r in parsed.records]), "w")
    assert [(r.type, r.values) for r in again.records] == [
        (r.type, r.values) for r in parsed.records
    ]
