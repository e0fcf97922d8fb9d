"""Step 2: is a receipt or closure file fit to apply? Format, data-check suite, domain checks.

Every problem is an ``Issue`` naming the line and field (the file is named by the file log row).
Checks, in order, each vectorised over the whole file:

1. the format engine (layout, encoding, record lengths, trailer count and totals): the first
   ``FormatError`` is the issue;
2. the header: the client's customer number at the agency, a plausible file date;
3. domain checks against the agreement's cases: known case ids, no case twice, accepted cases
   carry the agency's reference, rejections a reason, closure status codes in the profile's set,
   amounts non-negative, collected not above what was sent nor below what was reported before,
   the agency's reference matching the one on its receipt, dates plausible;
4. the Great Expectations suite ``include/formats/checks/<kind>.yaml`` (the declared contract);
   a failure there that the domain checks did not catch names the column.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta

import numpy as np
import pandas as pd
from sqlalchemy import select

from inkasso.agreements import Agreement
from inkasso.db.schema import ink_case
from inkasso.formats import FormatError, load_layout
from inkasso.formats.profile import AgencyProfile
from inkasso.inbound.staging import StagedIds
from inkasso.masking import mask_text

MAX_PER_CHECK = 50  # issue rows per check and file; the rest is counted in one more row
FINAL_STATUSES = ("paid", "closed", "recalled", "uncollectible", "rejected")
EARLIEST_FILE_DAYS = 366  # a file dated more than a year back is not plausible
CASE_COLUMNS = [
    "case_id",
    "invoice_id",
    "status",
    "agency_case_ref",
    "sent_amount",
    "collected_amount",
    "business_date",
]
CASE_RENAMES = {
    "status": "case_status",
    "agency_case_ref": "case_ref",
    "collected_amount": "case_collected",
    "business_date": "case_opened",
}


@dataclass(frozen=True)
class Issue:
    """One problem in a file: 1-based line (None: whole file), field (None: whole line), reason."""

    line: int | None
    field: str | None
    reason: str

    def __post_init__(self) -> None:
        # reasons quote the file's values (an agency may put an id anywhere): masked once, here,
        # so the issue rows, the quarantine detail, the task log and XCom all carry it masked
        object.__setattr__(self, "reason", mask_text(self.reason))

    def as_row(self, file_id: int) -> dict:
        """The ``ink_file_issue`` row."""
        return {"file_id": file_id, "line": self.line, "field": self.field, "reason": self.reason}


@dataclass
class Parsed:
    """A file read with its layout: header values and the detail frame with a ``line`` column."""

    kind: str
    header: dict
    details: pd.DataFrame
    issues: list[Issue] = field(default_factory=list)


def parse_file(
    profile: AgencyProfile, kind: str, data: bytes, file_name: str, business_date: date
) -> Parsed:
    """Read the file with the profile's layout and check its header; never raises on bad input."""
    layout = load_layout(profile.files[kind].layout)
    try:
        parsed = layout.read(data, file_name)
    except FormatError as err:
        return Parsed(kind, {}, pd.DataFrame(), [Issue(err.line, err.field, err.reason)])
    return as_parsed(profile, kind, parsed)


def as_parsed(profile: AgencyProfile, kind: str, parsed) -> Parsed:
    """A read file or chunk (``ParsedFile``/``ParsedChunk``) as ``Parsed``: details with lines,
    a closure's status code mapped to the profile's status."""
    details = parsed.details(with_line=True)
    if kind == "closure":
        codes = details["closure_status"].astype(str)
        details["status"] = codes.map(profile.closure_statuses)
    return Parsed(kind, parsed.header, details, [])


def iter_parsed(
    profile: AgencyProfile, kind: str, source, file_name: str, chunk_rows: int
) -> Iterator[Parsed]:
    """The file (bytes, path or binary stream) read chunk by chunk as ``Parsed``; raises
    ``FormatError`` (the whole-file checks before the last chunk is yielded)."""
    layout = load_layout(profile.files[kind].layout)
    for chunk in layout.iter_chunks(source, file_name, chunk_rows):
        yield as_parsed(profile, kind, chunk)


def check_header(parsed: Parsed, agreement: Agreement, business_date: date) -> list[Issue]:
    """Customer number and file date of the header record (line 1)."""
    issues = []
    customer_no = str(parsed.header.get("customer_no", "")).strip()
    if customer_no != agreement.customer_no_at_agency:
        issues.append(
            Issue(
                1,
                "customer_no",
                f"customer number {customer_no!r} is not this agreement's "
                f"({agreement.customer_no_at_agency})",
            )
        )
    file_date = parsed.header.get("file_date")
    if file_date is not None and not (
        business_date - timedelta(days=EARLIEST_FILE_DAYS)
        <= file_date
        <= business_date + timedelta(days=1)
    ):
        issues.append(
            Issue(1, "file_date", f"file date {file_date} is not plausible for {business_date}")
        )
    return issues


def read_cases(conn, agreement_id: str, case_ids: pd.Series) -> pd.DataFrame:
    """The agreement's cases in the id range of a file, one query."""
    if case_ids.empty:
        return pd.DataFrame(columns=CASE_COLUMNS)
    ids = pd.to_numeric(case_ids, errors="coerce").dropna()
    if ids.empty:
        return pd.DataFrame(columns=CASE_COLUMNS)
    # the driver's own tuples: SQLAlchemy's per-row result processing, which parsed the same
    # few dates again on every row on SQLite, took half of the step; the dates are converted
    # below, once per distinct value
    result = conn.execute(
        select(*[ink_case.c[c] for c in CASE_COLUMNS]).where(
            ink_case.c.agreement_id == agreement_id,
            ink_case.c.case_id.between(int(ids.min()), int(ids.max())),
        )
    )
    rows = result.cursor.fetchall()
    result.close()
    frame = pd.DataFrame(rows, columns=CASE_COLUMNS)
    frame["business_date"] = _dates(frame["business_date"])
    return frame


def _dates(column: pd.Series) -> pd.Series:
    """A column of days as ``date`` objects (object dtype, as SQLAlchemy's Date reads them),
    from dates (PostgreSQL) or ISO text (SQLite); each distinct value converted once."""
    days = {v: v if isinstance(v, date) else date.fromisoformat(str(v)[:10])
            for v in column.dropna().unique()}  # fmt: skip
    return pd.Series([days.get(v) for v in column], index=column.index, dtype=object)


class DetailChecks:
    """What the domain checks keep across the chunks of one file: per check (in the order the
    checks run) its first ``MAX_PER_CHECK`` issues and how many rows it flagged. One per file;
    ``check_details`` per chunk, in order, then ``finish``.

    "No case twice" across chunks: with ``ids`` (a ``StagedIds`` on the transaction's
    connection) each chunk's case ids and lines are staged in the database and the repeated
    ones are found there, set-based, by ``finish``; nothing per record is kept here, so memory
    is bounded by a chunk. Without ``ids`` (one frame, the whole file) they are found in the
    frame.
    """

    def __init__(self, ids: StagedIds | None = None) -> None:
        """An empty tally; ``ids``: where the case ids of a file read in chunks are staged."""
        self._checks: list[tuple[str, list[Issue], list[int]]] = []
        self._at = 0
        self.rows = 0
        self.ids = ids
        self._repeat_slot: int | None = None

    def begin_chunk(self) -> None:
        """The next chunk's checks run in the same order as the last one's."""
        self._at = 0

    def flag(self, frame: pd.DataFrame, mask, column: str, reason) -> None:
        """Add one issue per flagged row (capped per check), ``reason`` a function of the row."""
        if self._at == len(self._checks):
            self._checks.append((column, [], [0]))
        _, issues, count = self._checks[self._at]
        self._at += 1
        bad = frame[mask]
        count[0] += len(bad)
        for row in bad.head(MAX_PER_CHECK - len(issues)).itertuples(index=False):
            issues.append(Issue(int(row.line), column, reason(row)))

    def issues(self) -> list[Issue]:
        """The issues so far, check by check, each check's overflow counted in one more row."""
        out: list[Issue] = []
        for column, issues, (count,) in self._checks:
            out += issues
            if count > MAX_PER_CHECK:
                more = f"... and {count - MAX_PER_CHECK} more lines with the same problem"
                out.append(Issue(None, column, more))
        return out

    def repeated(self, d: pd.DataFrame) -> np.ndarray:
        """True for a record whose case id an earlier line of the frame has. With ``ids`` the
        chunk is staged instead and nothing is flagged yet: ``finish`` words the repeats of the
        whole file in this check's place."""
        if self.ids is None:
            return d["case_id"].duplicated(keep="first").to_numpy(copy=True)
        self.ids.add(d["line"], d["case_id"])
        self._repeat_slot = self._at  # the slot the flag of this check takes
        return np.zeros(len(d), dtype=bool)

    def finish(self) -> list[Issue]:
        """All the file's issues: the staged case ids' repeats (found in SQL) in their check's
        place, by line, as ``repeated`` flags them in one frame."""
        if self.ids is not None and self._repeat_slot is not None:
            count, first = self.ids.repeated(MAX_PER_CHECK)
            _, issues, counter = self._checks[self._repeat_slot]
            issues[:] = [Issue(line, "case_id", _twice(case_id)) for line, case_id in first]
            counter[0] = count
        return self.issues()


def _twice(case_id) -> str:
    """The reason for a case id on a second line."""
    return f"case {case_id} appears more than once in the file"


def _flag(checks: DetailChecks, frame: pd.DataFrame, mask, column: str, reason) -> None:
    """Add one issue per flagged row (capped), ``reason`` a function of the row."""
    checks.flag(frame, mask, column, reason)


def check_details(
    parsed: Parsed,
    cases: pd.DataFrame,
    agreement: Agreement,
    profile: AgencyProfile,
    business_date: date,
    checks: DetailChecks | None = None,
) -> tuple[list[Issue], pd.DataFrame]:
    """Domain checks of the detail records; returns the issues and the records merged with cases.

    The merged frame has the case's state as ``invoice_id``, ``case_status``, ``case_ref``,
    ``sent_amount``, ``case_collected`` and ``case_opened``. ``checks``: the tally of a file
    read in chunks (pass the same one for each chunk, in order); the issues returned are then
    those of the chunks so far, and ``checks.finish()`` after the last chunk gives the file's.
    """
    issues = checks or DetailChecks()
    issues.begin_chunk()
    issues.rows += len(parsed.details)
    d = parsed.details.merge(cases.rename(columns=CASE_RENAMES), on="case_id", how="left")
    known = d["case_status"].notna()
    _flag(
        issues,
        d,
        ~known,
        "case_id",
        lambda r: f"unknown case {r.case_id}: no case of agreement {agreement.agreement_id} has it",
    )
    _flag(
        issues,
        d,
        issues.repeated(d),
        "case_id",
        lambda r: _twice(r.case_id),
    )
    ref = d["agency_case_ref"].fillna("").astype(str)
    theirs = d["case_ref"].fillna("").astype(str)
    if parsed.kind == "receipt":
        _check_receipt(issues, d, ref)
    else:
        _check_closure(issues, d, known, profile, business_date)
    _flag(
        issues,
        d,
        known & (ref != "") & (theirs != "") & (ref != theirs),
        "agency_case_ref",
        lambda r: (
            f"case {r.case_id}: agency reference {r.agency_case_ref!r} differs from "
            f"{r.case_ref!r} given earlier"
        ),
    )
    return issues.issues(), d


def _check_receipt(issues: DetailChecks, d: pd.DataFrame, ref: pd.Series) -> None:
    _flag(
        issues,
        d,
        (d["receipt_status"] == "A") & (ref == ""),
        "agency_case_ref",
        lambda r: f"case {r.case_id} accepted without the agency's case reference",
    )
    reason = d["reason_code"].fillna("").astype(str) + d["reason_text"].fillna("").astype(str)
    _flag(
        issues,
        d,
        (d["receipt_status"] == "R") & (reason.str.strip() == ""),
        "reason_code",
        lambda r: f"case {r.case_id} rejected without a reason code or text",
    )


def _check_closure(
    issues: DetailChecks,
    d: pd.DataFrame,
    known: pd.Series,
    profile: AgencyProfile,
    business_date: date,
) -> None:
    _flag(
        issues,
        d,
        d["status"].isna(),
        "closure_status",
        lambda r: (
            f"status code {r.closure_status!r} is not one of the agency's "
            f"{sorted(profile.closure_statuses)}"
        ),
    )
    for col in ("collected_amount", "remaining_amount"):
        _flag(
            issues,
            d,
            d[col] < 0,
            col,
            lambda r, col=col: f"negative amount {getattr(r, col)} on case {r.case_id}",
        )
    _flag(
        issues,
        d,
        known & (d["collected_amount"] > d["sent_amount"]),
        "collected_amount",
        lambda r: (
            f"collected {r.collected_amount} on case {r.case_id} is more than the "
            f"{int(r.sent_amount)} sent to the agency"
        ),
    )
    still_open = known & ~d["case_status"].isin(FINAL_STATUSES)
    _flag(
        issues,
        d,
        still_open & (d["collected_amount"] < d["case_collected"]),
        "collected_amount",
        lambda r: (
            f"collected {r.collected_amount} on case {r.case_id} is less than the "
            f"{int(r.case_collected)} reported earlier"
        ),
    )
    closure_date = pd.to_datetime(d["closure_date"])
    late = closure_date > pd.Timestamp(business_date + timedelta(days=1))
    early = known & (closure_date < pd.to_datetime(d["case_opened"]))
    _flag(
        issues,
        d,
        late | early,
        "closure_date",
        lambda r: (
            f"closure date {r.closure_date} of case {r.case_id} is not between the "
            f"day it was sent ({r.case_opened}) and {business_date}"
        ),
    )


def check_suite(parsed: Parsed) -> list[Issue]:
    """The Great Expectations suite of the kind; failures name the column."""
    from inkasso.checks import run_suite

    result = run_suite(parsed.kind, parsed.details)
    return _suite_issues(parsed.kind, result.failures)


def _suite_issues(kind: str, failures: list[str]) -> list[Issue]:
    """The suite's failures as issues naming the expectation's column."""
    from inkasso.checks import load_suite

    columns = [next(iter(item.values())).get("column") for item in load_suite(kind)["expectations"]]
    out = []
    for failure in failures:
        col = next((c for c in columns if c and f"'{c}'" in failure), None)
        out.append(Issue(None, col, f"data check {kind}: {failure}"))
    return out


class SuiteChecks:
    """The data-check suite over the chunks of one file, with the whole file's outcome: per
    expectation the rows it flagged, its first line and first three values. ``check`` per
    chunk, in order; then ``finish`` (or ``issues``).

    A uniqueness expectation on the integer ``case_id`` must hold across chunks: it is not
    evaluated per chunk but by ``finish`` over the file's case ids staged in the database
    (``StagedIds``, set-based), so every line of a pair split across chunks is counted, as over
    the whole file, and nothing per record is kept here. A uniqueness expectation on another
    column holds within each chunk.
    """

    def __init__(self, kind: str) -> None:
        """An empty tally for the suite of ``kind`` (receipt, closure)."""
        from inkasso.checks import compiled_suite

        self.kind = kind
        self.suite = compiled_suite(kind)
        self._count = [0] * len(self.suite)
        self._examples: list[list[tuple[int, str]]] = [[] for _ in self.suite]
        self._missing: list[str | None] = [None] * len(self.suite)
        self._deferred: dict[int, object] = {}  # expectation -> case_id's dtype, for ``finish``
        self._finished = False

    def check(self, parsed: Parsed) -> None:
        """Run the suite on one chunk (a ``Parsed`` whose details carry the file's lines)."""
        from inkasso.checks import _example

        frame = parsed.details
        lines = frame["line"].to_numpy() if "line" in frame.columns else None
        for i, exp in enumerate(self.suite):
            missing = [c for c in exp.columns if c not in frame.columns]
            if missing:
                self._missing[i] = (
                    f"{exp.describe()}: column {missing[0]} is missing from the frame"
                )
                continue
            col = exp.columns[0]
            if (
                exp.type == "ExpectColumnValuesToBeUnique"
                and col == "case_id"
                and lines is not None
                and pd.api.types.is_integer_dtype(frame[col])
            ):
                self._deferred[i] = frame[col].dtype
                continue
            bad = exp.evaluate(frame, **exp.kwargs)
            where = np.flatnonzero(bad)
            self._count[i] += len(where)
            found = [(int(lines[p]), _example(frame, col, int(p))) for p in where[:3]]
            self._examples[i] = sorted(self._examples[i] + found)[:3]

    def finish(self, ids: StagedIds) -> list[Issue]:
        """The whole file's issues, the case ids' uniqueness judged over ``ids`` (the file's
        case ids and lines, staged chunk by chunk)."""
        for i, dtype in self._deferred.items():
            count, first = ids.not_unique(3)
            self._count[i] = count
            self._examples[i] = [(line, _shown(dtype, value)) for line, value in first]
        self._finished = True
        return self.issues()

    def issues(self, partial: bool = False) -> list[Issue]:
        """One issue per failed expectation, worded as ``check_suite`` words the whole file;
        ``partial``: before ``finish``, without the case ids' uniqueness."""
        if self._deferred and not self._finished and not partial:
            raise RuntimeError("the case ids' uniqueness is judged by finish(ids)")
        failures = []
        for i, exp in enumerate(self.suite):
            if self._missing[i]:
                failures.append(self._missing[i])
            elif self._count[i]:
                (line, first), *_ = self._examples[i]
                examples = ", ".join(e for _, e in self._examples[i])
                failures.append(
                    f"{exp.describe()}: {self._count[i]} unexpected, first at line {line}"
                    f" field {' and '.join(exp.columns)} (value {first});"
                    f" unexpected values e.g. [{examples}]"
                )
        return _suite_issues(self.kind, failures)


def _shown(dtype, value) -> str:
    """A value as the suite's failure text shows it (as read from a column of ``dtype``)."""
    from inkasso.checks import _example

    return _example(pd.DataFrame({"v": pd.Series([value], dtype=dtype)}), "v", 0)
