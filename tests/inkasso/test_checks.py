"""The data checks of include/formats/checks/*.yaml: every expectation type a suite uses names
the failing line and field, the pandas evaluation agrees with Great Expectations itself on the
same frames, an unknown expectation is refused, and a file checked in chunks still finds a
duplicate across chunks."""

from __future__ import annotations

import pandas as pd
import pytest

from inkasso import checks
from inkasso.checks import ChunkedCheck, DataCheckError, check_frame, run_suite


def good_cases(n: int = 4) -> pd.DataFrame:
    """A new-case frame that passes the new_cases suite."""
    return pd.DataFrame(
        {
            "case_id": range(1, n + 1),
            "invoice_no": [f"F{i}" for i in range(n)],
            "debtor_no": ["1"] * n,
            "debtor_name": ["Kari Nordmann"] * n,
            "debtor_type": ["P"] * n,
            "national_id": ["01017012345"] * n,
            "street": ["Storgata 1"] * n,
            "postcode": ["0150"] * n,
            "city": ["Oslo"] * n,
            "country": ["NO"] * n,
            "original_amount": [10_000] * n,
            "remaining_amount": [9_000] * n,
            "currency": ["NOK"] * n,
            "kid": ["1234567890"] * n,
            "reminder_count": [1] * n,
        }
    )


# (expectation type, column to break, bad value, the field named); the bad row is the third
BREAKS = [
    ("ExpectColumnValuesToNotBeNull", "street", None, "street"),
    ("ExpectColumnValuesToBeUnique", "invoice_no", "F0", "invoice_no"),
    ("ExpectColumnValuesToBeInSet", "currency", "USD", "currency"),
    ("ExpectColumnValuesToBeBetween", "reminder_count", 12, "reminder_count"),
    ("ExpectColumnValuesToMatchRegex", "postcode", "01A0", "postcode"),
    (
        "ExpectColumnPairValuesAToBeGreaterThanB",
        "remaining_amount",
        20_000,
        "original_amount and remaining_amount",
    ),
]


@pytest.mark.parametrize(("etype", "column", "value", "field"), BREAKS, ids=[b[0] for b in BREAKS])
def test_a_failure_names_its_line_and_field(etype, column, value, field):
    frame = good_cases()
    frame[column] = frame[column].astype(object)
    frame.loc[2, column] = value
    with pytest.raises(DataCheckError) as err:
        check_frame("new_cases", frame, first_line=2)  # a header on line 1: the cases from 2
    (failure,) = [f for f in err.value.failures if f.startswith(checks.snake_case(etype))]
    # the duplicate marks both rows: the first is line 2; any other failure is the third row
    line = 2 if etype == "ExpectColumnValuesToBeUnique" else 4
    assert f"first at line {line} field {field}" in failure
    assert f"'{column if etype != 'ExpectColumnPairValuesAToBeGreaterThanB' else 'column_A'}'" in (
        failure
    )


def test_an_inbound_frame_is_named_by_its_own_line_column():
    frame = pd.DataFrame(
        {"case_id": [5, 6, 7], "receipt_status": ["A", "X", "R"], "line": [2, 3, 4]}
    )
    result = run_suite("receipt", frame)
    assert not result.success
    assert "first at line 3 field receipt_status (value 'X')" in result.failures[0]


def test_national_ids_in_a_failure_are_masked():
    frame = good_cases()
    frame["postcode"] = frame["postcode"].astype(object)
    frame.loc[1, "postcode"] = "01017012345"
    result = run_suite("new_cases", frame)
    assert "01017012345" not in " ".join(result.failures)
    assert "010170*****" in " ".join(result.failures)


def _broken_frames():
    yield "new_cases", good_cases()
    for _etype, column, value, _field in BREAKS:
        frame = good_cases()
        frame[column] = frame[column].astype(object)
        frame.loc[2, column] = value
        yield "new_cases", frame
    yield (
        "closure",
        pd.DataFrame(
            {
                "case_id": [1, 2, 2, None],
                "agency_case_ref": ["a", None, "c", "d"],
                "status": ["paid", "closed", "lost", None],
                "collected_amount": [0, -1, 5, None],
                "remaining_amount": [0, 0, 1, 2],
                "closure_date": ["2026-11-01", None, "2026-11-02", "2026-11-02"],
            }
        ),
    )


def test_the_pandas_evaluation_agrees_with_great_expectations():
    """Same YAML, same frames: the same expectations fail in GX and here."""
    for suite, frame in _broken_frames():
        ours = run_suite(suite, frame)
        theirs = run_suite(suite, frame, engine="gx")
        assert ours.success == theirs.success
        assert sorted(f.split(":")[0] for f in ours.failures) == sorted(
            f.split(":")[0] for f in theirs.failures
        ), suite


def test_an_unknown_expectation_is_refused_loudly(tmp_path, monkeypatch):
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "odd_suite.yaml").write_text(
        "name: odd_suite\nexpectations:\n  - ExpectColumnMeanToBeBetween: {column: a, min_value: 1}\n"
    )
    monkeypatch.setattr(checks, "FORMATS_DIR", tmp_path)
    with pytest.raises(checks.UnknownExpectationError, match="ExpectColumnMeanToBeBetween"):
        run_suite("odd_suite", pd.DataFrame({"a": [1]}))


def test_a_duplicate_across_chunks_is_found_with_its_line():
    check = ChunkedCheck("new_cases")
    first = good_cases(3)
    check.check(first, first_line=2)
    second = good_cases(3)
    second["case_id"] = [4, 5, 6]
    second["invoice_no"] = ["F7", "F8", "F1"]  # F1 went in the first chunk
    with pytest.raises(DataCheckError, match="line 7 field invoice_no also occurs in an earlier"):
        check.check(second, first_line=5)


def test_the_suites_are_compiled_once_per_process():
    checks.compiled_suite.cache_clear()
    run_suite("new_cases", good_cases())
    run_suite("new_cases", good_cases())
    assert checks.compiled_suite.cache_info().misses == 1


def test_checking_never_imports_great_expectations():
    """GX costs seconds to import: the checks of a dispatch or an inbound file never load it."""
    import subprocess
    import sys

    code = (
        "import sys, time, pandas as pd\n"
        "from test_checks import good_cases\n"
        "from inkasso.checks import run_suite\n"
        "start = time.perf_counter()\n"
        "for _ in range(20): assert run_suite('new_cases', good_cases(45)).success\n"
        "assert 'great_expectations' not in sys.modules\n"
        "print(time.perf_counter() - start)\n"
    )
    import os
    from pathlib import Path

    here = Path(__file__).resolve().parent
    env = os.environ | {"PYTHONPATH": f"{here.parents[1] / 'plugins'}{os.pathsep}{here}"}
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    assert float(out.stdout.strip()) < 2  # 20 agreements' checks of a demo day, with margin
