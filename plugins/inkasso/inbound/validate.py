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

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd
from sqlalchemy import select

from inkasso.db.schema import ink_case
from inkasso.formats import FormatError, load_layout
from inkasso.formats.profile import AgencyProfile
from inkasso.inbound.agreements import InboundAgreement
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
    header = parsed.header
    details = parsed.details(with_line=True)
    if kind == "closure":
        codes = details["closure_status"].astype(str)
        details["status"] = codes.map(profile.closure_statuses)
    return Parsed(kind, header, details, [])


def check_header(parsed: Parsed, agreement: InboundAgreement, business_date: date) -> list[Issue]:
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
    rows = conn.execute(
        select(*[ink_case.c[c] for c in CASE_COLUMNS]).where(
            ink_case.c.agreement_id == agreement_id,
            ink_case.c.case_id.between(int(ids.min()), int(ids.max())),
        )
    ).all()
    # plain tuples: a DataFrame built from Row objects looks up every row's keys (seconds)
    return pd.DataFrame([tuple(r) for r in rows], columns=CASE_COLUMNS)


def _flag(issues: list[Issue], frame: pd.DataFrame, mask, column: str, reason) -> None:
    """Add one issue per flagged row (capped), ``reason`` a function of the row."""
    bad = frame[mask]
    for row in bad.head(MAX_PER_CHECK).itertuples(index=False):
        issues.append(Issue(int(row.line), column, reason(row)))
    if len(bad) > MAX_PER_CHECK:
        issues.append(
            Issue(
                None,
                column,
                f"... and {len(bad) - MAX_PER_CHECK} more lines with the same problem",
            )
        )


def check_details(
    parsed: Parsed,
    cases: pd.DataFrame,
    agreement: InboundAgreement,
    profile: AgencyProfile,
    business_date: date,
) -> tuple[list[Issue], pd.DataFrame]:
    """Domain checks of the detail records; returns the issues and the records merged with cases.

    The merged frame has the case's state as ``invoice_id``, ``case_status``, ``case_ref``,
    ``sent_amount``, ``case_collected`` and ``case_opened``.
    """
    issues: list[Issue] = []
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
        d["case_id"].duplicated(keep="first"),
        "case_id",
        lambda r: f"case {r.case_id} appears more than once in the file",
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
    return issues, d


def _check_receipt(issues: list[Issue], d: pd.DataFrame, ref: pd.Series) -> None:
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
    issues: list[Issue],
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
    from inkasso.checks import load_suite, run_suite

    result = run_suite(parsed.kind, parsed.details)
    if result.success:
        return []
    columns = [
        next(iter(item.values())).get("column") for item in load_suite(parsed.kind)["expectations"]
    ]
    out = []
    for failure in result.failures:
        col = next((c for c in columns if c and f"'{c}'" in failure), None)
        out.append(Issue(None, col, f"data check {parsed.kind}: {failure}"))
    return out
