"""Data checks: the Great Expectations suites declared in ``include/formats/checks/*.yaml``.

Each suite is read once per process and compiled into vectorised pandas checks with the same
semantics as GX's pandas execution engine (nulls are skipped except by the not-null check; a
uniqueness failure marks every duplicated row; regexes are searched, as ``re.search`` does;
column pairs are skipped when both values are missing). Building a GX context and validator per
call cost seconds even for a few rows, and importing GX alone takes about two, so the hot path
never imports it. ``run_suite(..., engine="gx")`` runs the same YAML through GX itself (imported
lazily, never at DAG parse); the tests compare both engines on the same frames.

A failure names the expectation, how many rows failed, and the first failing line and field:
the frame's ``line`` column when it has one (inbound files), else ``first_line`` + the row
position (a caller writing a file says where its first record goes), else the 1-based row.
An expectation type the evaluator does not know is refused when the suite is loaded.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import numpy as np
import pandas as pd

from inkasso.config import FORMATS_DIR, read_yaml
from inkasso.masking import mask_text

log = logging.getLogger(__name__)


class DataCheckError(ValueError):
    """A frame failed its suite; ``failures`` says which expectation and on which values."""

    def __init__(self, suite: str, failures: list[str]):
        self.suite = suite
        self.failures = failures
        super().__init__(f"data check {suite!r} failed: " + "; ".join(failures))


class UnknownExpectationError(ValueError):
    """A suite names an expectation type (or argument) the evaluator cannot run as GX would."""


@dataclass
class CheckResult:
    """Outcome of one suite on one frame."""

    suite: str
    success: bool
    evaluated: int
    failures: list[str] = field(default_factory=list)


@cache
def load_suite(name: str) -> dict:
    """Read ``include/formats/checks/<name>.yaml`` (once per process)."""
    return read_yaml(FORMATS_DIR / "checks" / f"{name}.yaml")


# ----------------------------------------------------------------------------- the evaluators
# Each takes the frame and the expectation's kwargs and returns a boolean numpy array: True where
# the row is unexpected. GX pandas semantics: nulls are not evaluated (except by the null check).


def _missing(column: pd.Series) -> np.ndarray:
    return column.isna().to_numpy()


def _not_null(frame: pd.DataFrame, column: str) -> np.ndarray:
    return _missing(frame[column])


def _unique(frame: pd.DataFrame, column: str) -> np.ndarray:
    values = frame[column]
    return values.duplicated(keep=False).to_numpy() & ~_missing(values)


def _in_set(frame: pd.DataFrame, column: str, value_set) -> np.ndarray:
    values = frame[column]
    return ~values.isin(list(value_set)).to_numpy() & ~_missing(values)


def _between(
    frame: pd.DataFrame,
    column: str,
    min_value=None,
    max_value=None,
    strict_min: bool = False,
    strict_max: bool = False,
) -> np.ndarray:
    values = frame[column]
    present = ~_missing(values)
    bad = np.zeros(len(values), dtype=bool)
    if not present.any():
        return bad
    kept = values[present]
    if kept.dtype == object:  # e.g. Python ints from a parsed file: compare as numbers
        kept = pd.to_numeric(kept)
    ok = np.ones(len(kept), dtype=bool)
    if min_value is not None:
        ok &= (kept > min_value if strict_min else kept >= min_value).to_numpy()
    if max_value is not None:
        ok &= (kept < max_value if strict_max else kept <= max_value).to_numpy()
    bad[present] = ~ok
    return bad


def _match_regex(frame: pd.DataFrame, column: str, regex: str) -> np.ndarray:
    values = frame[column]
    present = ~_missing(values)
    bad = np.zeros(len(values), dtype=bool)
    if present.any():
        found = values[present].astype(str).str.contains(regex, regex=True).to_numpy()
        bad[present] = ~found
    return bad


def _pair_greater(
    frame: pd.DataFrame, column_A: str, column_B: str, or_equal: bool = False
) -> np.ndarray:
    a, b = frame[column_A], frame[column_B]
    a_missing, b_missing = _missing(a), _missing(b)
    both_missing = a_missing & b_missing  # GX's default ignore_row_if
    with np.errstate(invalid="ignore"):
        ok = (a >= b if or_equal else a > b).to_numpy(dtype=bool, na_value=False)
    return ~ok & ~both_missing


# type -> (evaluator, the kwargs naming columns, the kwargs it accepts)
_EVALUATORS: dict[str, tuple[Callable[..., np.ndarray], tuple[str, ...], set[str]]] = {
    "ExpectColumnValuesToNotBeNull": (_not_null, ("column",), {"column"}),
    "ExpectColumnValuesToBeUnique": (_unique, ("column",), {"column"}),
    "ExpectColumnValuesToBeInSet": (_in_set, ("column",), {"column", "value_set"}),
    "ExpectColumnValuesToBeBetween": (
        _between,
        ("column",),
        {"column", "min_value", "max_value", "strict_min", "strict_max"},
    ),
    "ExpectColumnValuesToMatchRegex": (_match_regex, ("column",), {"column", "regex"}),
    "ExpectColumnPairValuesAToBeGreaterThanB": (
        _pair_greater,
        ("column_A", "column_B"),
        {"column_A", "column_B", "or_equal"},
    ),
}


@dataclass(frozen=True)
class Expectation:
    """One compiled expectation of a suite."""

    type: str
    kwargs: dict
    evaluate: Callable[..., np.ndarray]
    columns: tuple[str, ...]

    def describe(self) -> str:
        """How the failure text starts: the type and its arguments, as GX prints them."""
        return f"{snake_case(self.type)} {self.kwargs}"


def snake_case(expectation_type: str) -> str:
    """GX's name of an expectation type: ``ExpectColumnValuesToBeUnique`` ->
    ``expect_column_values_to_be_unique``."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", expectation_type).lower()


@cache
def compiled_suite(name: str) -> tuple[Expectation, ...]:
    """The suite's expectations, checked and compiled once per process."""
    out = []
    for item in load_suite(name)["expectations"]:
        ((etype, kwargs),) = item.items()
        if etype not in _EVALUATORS:
            raise UnknownExpectationError(
                f"suite {name}: expectation {etype} is not supported by inkasso.checks "
                f"(supported: {sorted(_EVALUATORS)}); add an evaluator with GX's semantics"
            )
        fn, columns, accepted = _EVALUATORS[etype]
        unknown = set(kwargs) - accepted
        if unknown:
            raise UnknownExpectationError(
                f"suite {name}: {etype} has arguments {sorted(unknown)} inkasso.checks cannot run"
            )
        if etype == "ExpectColumnValuesToMatchRegex":
            re.compile(kwargs["regex"])  # a broken pattern fails at load, not mid-run
        out.append(Expectation(etype, dict(kwargs), fn, tuple(kwargs[c] for c in columns)))
    return tuple(out)


def _example(frame: pd.DataFrame, column: str, pos: int) -> str:
    value = frame[column].iloc[pos]
    return mask_text(repr(None if pd.isna(value) else value))


def _line_of(frame: pd.DataFrame, pos: int, first_line: int | None) -> str:
    if "line" in frame.columns:
        return f"line {int(frame['line'].iloc[pos])}"
    if first_line is not None:
        return f"line {first_line + pos}"
    return f"row {pos + 1}"


def _failure(exp: Expectation, frame: pd.DataFrame, bad: np.ndarray, first_line) -> str:
    where = np.flatnonzero(bad)
    pos = int(where[0])
    fields = " and ".join(exp.columns)
    examples = [_example(frame, exp.columns[0], int(p)) for p in where[:3]]
    return (
        f"{exp.describe()}: {len(where)} unexpected, first at {_line_of(frame, pos, first_line)}"
        f" field {fields} (value {_example(frame, exp.columns[0], pos)});"
        f" unexpected values e.g. [{', '.join(examples)}]"
    )


def _run_pandas(name: str, frame: pd.DataFrame, first_line: int | None) -> CheckResult:
    suite = compiled_suite(name)
    failures = []
    for exp in suite:
        missing = [c for c in exp.columns if c not in frame.columns]
        if missing:
            failures.append(f"{exp.describe()}: column {missing[0]} is missing from the frame")
            continue
        bad = exp.evaluate(frame, **exp.kwargs)
        if bad.any():
            failures.append(_failure(exp, frame, bad, first_line))
    return CheckResult(name, not failures, len(suite), failures)


def run_suite(
    name: str, frame: pd.DataFrame, *, first_line: int | None = None, engine: str = "pandas"
) -> CheckResult:
    """Validate ``frame`` against the suite ``name``; returns the result, never raises on failure.

    ``first_line``: the file line of the frame's first row (used when it has no ``line``
    column). ``engine="gx"`` runs the suite through Great Expectations itself (slow; tests).
    """
    if engine == "gx":
        return _run_gx(name, frame)
    return _run_pandas(name, frame, first_line)


def check_frame(name: str, frame: pd.DataFrame, *, first_line: int | None = None) -> CheckResult:
    """Validate and raise ``DataCheckError`` when the frame fails its suite."""
    result = run_suite(name, frame, first_line=first_line)
    if not result.success:
        raise DataCheckError(name, result.failures)
    log.debug(
        "data check %s: %s expectations passed on %s rows", name, result.evaluated, len(frame)
    )
    return result


class ChunkedCheck:
    """One suite over a frame that arrives in chunks (a file written chunk by chunk).

    Row-wise expectations are complete per chunk. A uniqueness expectation must also hold across
    chunks: a sorted array of a 64-bit hash per value seen (8 bytes a row, not the values) finds
    a value that an earlier chunk had. Call ``check`` per chunk, in file order.
    """

    def __init__(self, name: str, unique_elsewhere: tuple[str, ...] = ()):
        """``unique_elsewhere``: columns whose uniqueness across chunks something else already
        guarantees (a primary key the values come from); checked within each chunk only."""
        self.name = name
        self.rows = 0
        self._seen: dict[str, np.ndarray] = {
            e.columns[0]: np.empty(0, dtype=np.uint64)
            for e in compiled_suite(name)
            if e.type == "ExpectColumnValuesToBeUnique" and e.columns[0] not in unique_elsewhere
        }

    def check(self, frame: pd.DataFrame, first_line: int) -> CheckResult:
        """Check one chunk whose first row goes on ``first_line``; raises ``DataCheckError``."""
        result = check_frame(self.name, frame, first_line=first_line)
        for column, seen in self._seen.items():
            values = frame[column]
            present = ~_missing(values)
            hashes = pd.util.hash_pandas_object(values[present], index=False).to_numpy()
            at = np.searchsorted(seen, hashes)
            again = seen[np.minimum(at, len(seen) - 1)] == hashes if len(seen) else at < 0
            if again.any():
                pos = int(np.flatnonzero(present)[np.flatnonzero(again)[0]])
                raise DataCheckError(
                    self.name,
                    [
                        f"expect_column_values_to_be_unique {{'column': {column!r}}}: value"
                        f" {_example(frame, column, pos)} at line {first_line + pos} field"
                        f" {column} also occurs in an earlier part of the file"
                    ],
                )
            self._seen[column] = np.union1d(seen, hashes)
        self.rows += len(frame)
        return result


def _run_gx(name: str, frame: pd.DataFrame) -> CheckResult:
    """The suite run by Great Expectations itself on an ephemeral context (slow: for tests)."""
    import great_expectations as gx
    from great_expectations.core.validation_definition import ValidationDefinition

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    source = context.data_sources.add_pandas(f"{name}_source")
    asset = source.add_dataframe_asset(f"{name}_frame")
    batch = asset.add_batch_definition_whole_dataframe(f"{name}_batch")
    suite = context.suites.add(gx.ExpectationSuite(name=name))
    for item in load_suite(name)["expectations"]:
        ((cls_name, kwargs),) = item.items()
        suite.add_expectation(getattr(gx.expectations, cls_name)(**kwargs))
    validation = ValidationDefinition(name=f"{name}_validation", data=batch, suite=suite)
    outcome = validation.run(batch_parameters={"dataframe": frame})
    failures = []
    for res in outcome.results:
        if not res.success:
            cfg = res.expectation_config
            examples = (res.result or {}).get("partial_unexpected_list", [])[:3]
            kwargs = {k: v for k, v in cfg.kwargs.items() if k != "batch_id"}
            failures.append(f"{cfg.type} {kwargs}: unexpected values e.g. {examples}")
    return CheckResult(name, bool(outcome.success), len(outcome.results), failures)
