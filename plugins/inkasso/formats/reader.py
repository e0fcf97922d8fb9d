"""Reading a file: decode, split into lines, tell record types apart, cut fields column by column,
then check the structure (header first, trailer last) and the trailer's controls.

Within each stage every check runs over whole columns; the error raised is the one on the
earliest line, so the message points at the first thing wrong in the file.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from inkasso.formats.codec import CONTROL_CHARACTERS, FieldProblem, control_character, from_text
from inkasso.formats.errors import FormatError
from inkasso.formats.parsed import ParsedFile

if TYPE_CHECKING:
    from inkasso.formats.layout import Layout


class _Problems:
    """Collects candidate errors of one stage and raises the one on the earliest line."""

    def __init__(self, file_name: str) -> None:
        self.file_name = file_name
        self.found: list[tuple[int, str | None, str]] = []

    def add(self, line: int, field: str | None, reason: str) -> None:
        self.found.append((int(line), field, reason))

    def raise_first(self) -> None:
        if self.found:
            line, field, reason = min(self.found, key=lambda p: p[0])
            raise FormatError(self.file_name, line, field, reason)


def _decode(layout: Layout, data: bytes, file_name: str) -> str:
    try:
        return data.decode(layout.encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        bad = data[err.start : err.end]
        raise FormatError(
            file_name,
            line,
            None,
            f"not valid {layout.encoding}: byte {bad.hex()} at column {column}",
        ) from None


def _split_lines(layout: Layout, text: str, file_name: str) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    crlf = layout.line_ending == "\r\n"
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            if not crlf:
                raise FormatError(
                    file_name, i + 1, None, "CR LF line ending in a file with LF endings"
                )
            lines[i] = line[:-1]
        elif crlf and i < len(lines) - 1:
            raise FormatError(file_name, i + 1, None, "line ends without CR (expected CR LF)")
    while lines and lines[-1].strip() == "":
        lines.pop()  # blank lines at the very end are not records
    return lines


def read_file(layout: Layout, data: bytes, file_name: str) -> ParsedFile:
    """Parse ``data`` with ``layout`` (see ``Layout.read``)."""
    text = _decode(layout, data, file_name)
    lines = _split_lines(layout, text, file_name)
    first = 1
    if layout.column_names:
        expected = layout.delimiter.join(
            ["record_type", *layout.records[layout.column_names].field_names]
        )
        if not lines or lines[0] != expected:
            got = lines[0] if lines else ""
            raise FormatError(
                file_name, 1, None, f"column names line {got!r}, expected {expected!r}"
            )
        lines = lines[1:]
        first = 2
    if not lines:
        raise FormatError(file_name, None, None, "empty file: no records")
    series = pd.Series(lines, dtype=object).astype(str)
    line_no = np.arange(len(lines)) + first

    # stage 1: record types and line shapes
    problems = _Problems(file_name)
    if layout.kind == "fixed":
        codes = series.str.slice(layout.code_start - 1, layout.code_start - 1 + layout.code_width)
    else:
        codes = series.str.split(layout.delimiter, n=1, regex=False).str[0]
    by_code = {rec.code: rec for rec in layout.records.values()}
    known = codes.isin(list(by_code)).to_numpy()
    blank = (series.str.strip() == "").to_numpy()
    for i in np.flatnonzero(~known & blank)[:1]:
        problems.add(line_no[i], None, "empty line")
    for i in np.flatnonzero(~known & ~blank)[:1]:
        problems.add(line_no[i], "record_type", f"unknown record type {codes.iloc[i]!r}")
    cells: dict[str, pd.DataFrame] = {}
    positions: dict[str, np.ndarray] = {}
    for code, rec in by_code.items():
        idx = np.flatnonzero((codes == code).to_numpy())
        if len(idx) == 0:
            continue
        positions[rec.type] = idx
        sub = series.iloc[idx].reset_index(drop=True)
        if layout.kind == "fixed":
            cells[rec.type] = _cut_fixed(layout, rec, sub, line_no[idx], problems)
        else:
            cells[rec.type] = _cut_delimited(layout, rec, sub, line_no[idx], problems)
        _find_controls(rec, sub, cells[rec.type], line_no[idx], problems)
    problems.raise_first()

    # stage 2: structure
    types = np.empty(len(lines), dtype=object)
    for rtype, idx in positions.items():
        types[idx] = rtype
    _check_structure(layout, types, line_no, file_name)

    # stage 3: field values
    problems = _Problems(file_name)
    frames: dict[str, pd.DataFrame] = {}
    for rtype, raw in cells.items():
        rec = layout.records[rtype]
        columns = {}
        for f in rec.fields:
            try:
                columns[f.name] = from_text(f, raw[f.name])
            except FieldProblem as problem:
                problems.add(line_no[positions[rtype][problem.position]], f.name, problem.reason)
        frames[rtype] = pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))
    problems.raise_first()

    parsed = ParsedFile(
        file_name=file_name,
        layout=layout,
        frames=frames,
        lines={t: line_no[idx] for t, idx in positions.items()},
        empty_columns={t: r.field_names for t, r in layout.records.items()},
    )
    _check_controls(layout, parsed)
    return parsed


def _find_controls(rec, sub: pd.Series, cut: pd.DataFrame, lines: np.ndarray, problems) -> None:
    """Name the first line and field holding a control character (NUL, ESC, ...), if any.

    Checked on the raw text, before ``strip()`` (which takes \\x1c-\\x1f and tabs for blanks),
    and on every database alike: PostgreSQL cannot store a NUL, SQLite would keep it.
    """
    bad = sub.str.contains(CONTROL_CHARACTERS, regex=True).to_numpy()
    if not bad.any():
        return
    first = int(np.flatnonzero(bad)[0])
    for f in rec.fields:
        value = cut[f.name].iloc[first]
        char = control_character(value)
        if char is not None:
            problems.add(lines[first], f.name, f"control character {char} in {value!r}")
            return
    char = control_character(sub.iloc[first])
    problems.add(lines[first], None, f"control character {char} outside the fields")


def _cut_fixed(layout, rec, sub: pd.Series, lines: np.ndarray, problems: _Problems) -> pd.DataFrame:
    length = rec.length
    lens = sub.str.len().to_numpy()
    if layout.lenient_length:
        extra = sub.str.slice(length).str.strip() != ""
        for i in np.flatnonzero(extra.to_numpy())[:1]:
            problems.add(
                lines[i], None, f"wrong line length: {lens[i]} characters, expected {length}"
            )
        sub = sub.str.slice(0, length).str.ljust(length)
    else:
        for i in np.flatnonzero(lens < length)[:1]:
            problems.add(lines[i], None, f"truncated line: {lens[i]} characters, expected {length}")
        for i in np.flatnonzero(lens > length)[:1]:
            problems.add(
                lines[i], None, f"wrong line length: {lens[i]} characters, expected {length}"
            )
    return pd.DataFrame(
        {f.name: sub.str.slice(f.start - 1, f.start - 1 + f.width) for f in rec.fields},
        index=pd.RangeIndex(len(sub)),
    )


def _cut_delimited(
    layout, rec, sub: pd.Series, lines: np.ndarray, problems: _Problems
) -> pd.DataFrame:
    expected = len(rec.fields) + 1
    parts = sub.str.split(layout.delimiter, regex=False)
    counts = parts.str.len().to_numpy()
    for i in np.flatnonzero(counts < expected)[:1]:
        problems.add(lines[i], None, f"truncated line: {counts[i]} columns, expected {expected}")
    for i in np.flatnonzero(counts > expected)[:1]:
        problems.add(lines[i], None, f"wrong line length: {counts[i]} columns, expected {expected}")
    if (counts != expected).any():
        parts = parts.map(lambda p: (p + [""] * expected)[:expected])
    table = pd.DataFrame(parts.tolist(), index=pd.RangeIndex(len(sub)), dtype=object)
    if table.shape[1] == 0:
        table = pd.DataFrame(index=pd.RangeIndex(len(sub)), columns=range(expected), dtype=object)
    return pd.DataFrame(
        {f.name: table[i + 1].astype(str) for i, f in enumerate(rec.fields)},
        index=pd.RangeIndex(len(sub)),
    )


def _check_structure(
    layout: Layout, types: np.ndarray, line_no: np.ndarray, file_name: str
) -> None:
    header, trailer = layout.header, layout.trailer
    if header is not None:
        if types[0] != header.type:
            raise FormatError(
                file_name,
                int(line_no[0]),
                "record_type",
                f"missing header: first record is {types[0]}",
            )
        again = np.flatnonzero(types[1:] == header.type)
        if len(again):
            raise FormatError(
                file_name, int(line_no[again[0] + 1]), "record_type", "a second header"
            )
    if trailer is not None:
        ends = np.flatnonzero(types == trailer.type)
        if len(ends) == 0 or ends[0] != len(types) - 1:
            if len(ends):
                raise FormatError(
                    file_name, int(line_no[ends[0] + 1]), "record_type", "record after the trailer"
                )
            raise FormatError(
                file_name,
                int(line_no[-1]),
                "record_type",
                f"missing trailer: last record is {types[-1]}",
            )


def _check_controls(layout: Layout, parsed: ParsedFile) -> None:
    trailer = layout.trailer
    if trailer is None:
        return
    line = parsed.lines_of(trailer.type)[0]
    for control in trailer.controls:
        stated = parsed.trailer[control.field]
        if control.count:
            actual = sum(parsed.count(t) for t in control.count)
            what = f"{' + '.join(control.count)} records"
        else:
            actual = 0
            for t in control.of:
                if parsed.count(t):
                    actual += sum(int(v) for v in parsed.frame(t)[control.sum].dropna().tolist())
            what = f"sum of {control.sum}"
        if stated is None or int(stated) != actual:
            raise FormatError(
                parsed.file_name,
                int(line),
                control.field,
                f"control mismatch: trailer says {stated}, the file has {actual} ({what})",
            )
