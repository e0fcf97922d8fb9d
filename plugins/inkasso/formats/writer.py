"""Writing a file from frames: each field is formatted a whole column at a time."""

from __future__ import annotations

import re
from itertools import repeat
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from inkasso.formats.codec import FieldProblem, as_strings, exact_sum, line_breaks, to_cells
from inkasso.formats.errors import FormatError
from inkasso.formats.packing import field_matrix
from inkasso.formats.spec import RecordSpec

if TYPE_CHECKING:
    from inkasso.formats.spec import LayoutSpec


class _Block:
    """All records of one type to be written: their values and where they go in the file."""

    def __init__(
        self, rec: RecordSpec, frame: pd.DataFrame, positions: np.ndarray, rows: np.ndarray
    ):
        self.rec = rec
        self.frame = frame.reset_index(drop=True)
        self.positions = positions  # 0-based record position in the file
        self.rows = rows  # 0-based row of the caller's input, for error messages


def write_file(
    layout: LayoutSpec,
    header: dict[str, Any] | None,
    details: pd.DataFrame | list[dict[str, Any]],
    detail_type: str,
    trailer: dict[str, Any] | None,
    file_name: str | None,
) -> bytes:
    """A header, one detail type and a computed trailer (see ``Layout.write``)."""
    name = file_name or f"{layout.name} (writing)"
    if detail_type not in layout.records or layout.records[detail_type].role != "detail":
        raise FormatError(
            name, None, None, f"no detail record type {detail_type!r} in {layout.name}"
        )
    frame = _frame(details, layout.records[detail_type])
    n = len(frame)
    blocks: list[_Block] = []
    offset = 0
    if layout.header is not None:
        blocks.append(
            _Block(
                layout.header, _frame([header or {}], layout.header), np.array([0]), np.array([0])
            )
        )
        offset = 1
    elif header:
        raise FormatError(name, None, None, f"layout {layout.name} has no header record")
    blocks.append(_Block(layout.records[detail_type], frame, np.arange(n) + offset, np.arange(n)))
    if layout.trailer is not None:
        blocks.append(
            _Block(
                layout.trailer,
                _frame([trailer or {}], layout.trailer),
                np.array([n + offset]),
                np.array([0]),
            )
        )
    return _write_blocks(layout, blocks, name)


def write_record_list(
    layout: LayoutSpec, records: list[tuple[str, dict[str, Any]]], file_name: str | None
) -> bytes:
    """Records of several types in file order (see ``Layout.write_records``)."""
    name = file_name or f"{layout.name} (writing)"
    records = list(records)
    trailer = layout.trailer
    if trailer is not None and (not records or records[-1][0] != trailer.type):
        records.append((trailer.type, {}))
    by_type: dict[str, list[int]] = {}
    for i, (rtype, _values) in enumerate(records):
        if rtype not in layout.records:
            raise FormatError(name, i + 1, None, f"unknown record type {rtype!r}", row=i)
        by_type.setdefault(rtype, []).append(i)
    blocks = []
    for rtype, idx in by_type.items():
        rec = layout.records[rtype]
        frame = _frame([records[i][1] for i in idx], rec)
        blocks.append(_Block(rec, frame, np.array(idx), np.array(idx)))
    return _write_blocks(layout, blocks, name)


def _frame(data: pd.DataFrame | list[dict[str, Any]], rec: RecordSpec) -> pd.DataFrame:
    """The input as a frame; rows given as dicts keep Python objects (no int to float)."""
    if isinstance(data, pd.DataFrame):
        return data
    rows = list(data)
    columns = {f.name: pd.Series([r.get(f.name) for r in rows], dtype=object) for f in rec.fields}
    return pd.DataFrame(columns, index=pd.RangeIndex(len(rows)))


def _compute_controls(layout: LayoutSpec, blocks: list[_Block]) -> None:
    """Fill the trailer's control fields from the other blocks."""
    trailer = next((b for b in blocks if b.rec.role == "trailer"), None)
    if trailer is None:
        return
    by_type = {b.rec.type: b for b in blocks}
    for control in trailer.rec.controls:
        if control.count:
            value = sum(len(by_type[t].frame) for t in control.count if t in by_type)
        else:
            value = 0
            for t in control.of:
                if t in by_type and control.sum in by_type[t].frame:
                    value += exact_sum(by_type[t].frame[control.sum])
        trailer.frame[control.field] = pd.Series([value], dtype=object)


def _write_blocks(layout: LayoutSpec, blocks: list[_Block], name: str) -> bytes:
    total = sum(len(b.frame) for b in blocks)
    lines: list[str | None] = [None] * total
    first_line = 2 if layout.column_names else 1
    # the trailer last: its controls are computed from the blocks already checked
    ordered = sorted(blocks, key=lambda b: b.rec.role == "trailer")
    results: list[tuple[_Block, Any]] = []
    for block in ordered:
        if block.rec.role == "trailer":
            _compute_controls(layout, blocks)
        if len(block.frame) == 0:
            continue
        results.append((block, _format_block(layout, block, name, first_line)))
    fast = _fast_bytes(layout, results, total)
    if fast is not None:
        return fast
    for block, formatted in results:
        if isinstance(formatted, np.ndarray):
            formatted = _matrix_lines(formatted, layout.line_ending)
        for pos, text in zip(block.positions.tolist(), formatted, strict=False):
            lines[pos] = text
    if layout.column_names:
        rec = layout.records[layout.column_names]
        lines.insert(0, layout.delimiter.join(["record_type", *rec.field_names]))
    return _encode(layout, lines, name, 1, blocks, first_line)


def _encode(
    layout: LayoutSpec, lines: list, name: str, line_of_first: int, blocks, first_line: int
) -> bytes:
    """The lines joined with the layout's line ending and encoded: the one place a value with a
    line break (checked when ``blocks`` is given) or a character the encoding cannot hold is
    named by line and field. ``line_of_first`` is the file's line number of ``lines[0]``."""
    ending = layout.line_ending
    text = ending.join(lines) + ending
    if blocks is not None and (
        text.count("\n") != len(lines) or text.count("\r") != len(lines) * ending.count("\r")
    ):
        _raise_line_break(layout, blocks, name, first_line)
    try:
        return text.encode(layout.encoding)
    except UnicodeEncodeError as err:
        index = text.count("\n", 0, err.start)
        line_start = text.rfind("\n", 0, err.start) + 1
        field = _field_at(layout, lines[index], err.start - line_start)
        raise FormatError(
            name,
            line_of_first + index,
            field,
            f"{text[err.start]!r} cannot be written in {layout.encoding}",
        ) from None


def _raise_line_break(layout: LayoutSpec, blocks: list[_Block], name: str, first_line: int) -> None:
    """A value holds CR or LF: find the first such value and name its line and field."""
    found = []
    for block in blocks:
        for f in block.rec.fields:
            if f.type == "text" and f.name in block.frame.columns:
                pos = line_breaks(block.frame[f.name])
                if pos is not None:
                    found.append((int(block.positions[pos]), f.name, int(block.rows[pos])))
    position, field, row = min(found)
    raise FormatError(name, position + first_line, field, "text contains a line break", row=row)


def _field_at(layout: LayoutSpec, line: str, column: int) -> str | None:
    """The name of the field at 0-based character ``column`` of a written line."""
    if layout.kind == "fixed":
        code = line[layout.code_start - 1 : layout.code_start - 1 + layout.code_width]
        for rec in layout.records.values():
            if rec.code == code:
                for f in rec.fields:
                    if f.start - 1 <= column < f.start - 1 + f.width:
                        return f.name
        return None
    index = line.count(layout.delimiter, 0, column) - 1
    code = line.split(layout.delimiter, 1)[0]
    for rec in layout.records.values():
        if rec.code == code and 0 <= index < len(rec.fields):
            return rec.fields[index].name
    return None


def _format_block(layout: LayoutSpec, block: _Block, name: str, first_line: int) -> list[str]:
    """The lines of one block of records, built column by column."""
    rec, frame = block.rec, block.frame
    n = len(frame)
    texts: list[tuple[Any, Any]] = []
    for f in rec.fields:
        try:
            texts.append((f, _field_texts(layout, rec, f, frame, name)))
        except FieldProblem as problem:
            pos = problem.position
            raise FormatError(
                name,
                int(block.positions[pos]) + first_line,
                f.name,
                problem.reason,
                row=int(block.rows[pos]),
            ) from None
    if layout.kind == "delimited":
        pieces: list[Any] = [repeat(rec.code, n)]
        for _f, out in texts:
            pieces.append(repeat(layout.delimiter, n))
            pieces.append(_as_list(out))
    elif all(isinstance(out, np.ndarray) for _f, out in texts):
        return _fixed_matrix(layout, rec, texts, n)
    else:
        pieces = _fixed_pieces(layout, rec, texts, n)
    return ["".join(parts) for parts in zip(*pieces, strict=False)]


def _field_texts(layout: LayoutSpec, rec: RecordSpec, f, frame: pd.DataFrame, name: str):
    """One field's column as texts: padded (fixed) or checked for the delimiter (delimited).
    Raises ``FieldProblem`` for a value that does not fit, ``FormatError`` for a missing column."""
    if f.name in frame.columns:
        column = frame[f.name]
    elif f.required and f.const is None:
        raise FormatError(name, None, f.name, f"missing column {f.name!r} for {rec.type} records")
    else:
        column = pd.Series([None] * len(frame), dtype=object)
    if layout.kind == "fixed":
        packed = field_matrix(f, column)  # the plain case, a whole column at once
        if packed is not None:
            return packed
    return _careful_texts(layout, f, column)


def _careful_texts(layout: LayoutSpec, f, column: pd.Series):
    """``_field_texts`` for any column (``packing`` takes only the plain ones): the values
    converted by ``codec.to_cells``, measured and padded; ``FieldProblem`` at the first bad one."""
    out, cells = to_cells(f, column)
    values = _Texts(out, cells)
    if f.width is not None:
        too_long = values.lengths() > f.width
        if too_long.any():
            pos = int(np.flatnonzero(too_long)[0])
            raise FieldProblem(pos, f"{values.at(pos)!r} does not fit width {f.width}")
    if layout.kind == "fixed":
        return values.padded(f.width, f.align, "0" if f.type == "text" and f.pad == "0" else " ")
    out = values.series()
    bad = out.str.contains(layout.delimiter, regex=False).to_numpy()
    if bad.any():
        pos = int(np.flatnonzero(bad)[0])
        raise FieldProblem(pos, f"{out.iloc[pos]!r} contains the delimiter {layout.delimiter!r}")
    return out


def _fixed_pieces(layout: LayoutSpec, rec: RecordSpec, texts, n: int) -> list:
    """The columns of fixed-width lines in position order, blanks filling the gaps."""
    slots = [(layout.code_start, layout.code_width, repeat(rec.code, n))]
    slots += [(f.start, f.width, _as_list(out)) for f, out in texts]
    slots.sort(key=lambda s: s[0])
    pieces = []
    at = 1
    for start, width, values in slots:
        if start > at:
            pieces.append(repeat(" " * (start - at), n))
        pieces.append(values)
        at = start + width
    if rec.length is not None and rec.length >= at:
        pieces.append(repeat(" " * (rec.length - at + 1), n))
    return pieces


class _Texts:
    """One field's texts, measured and padded with numpy's string functions.

    A value holding a NUL keeps to Python's own ``str`` methods: a numpy unicode array cannot
    tell a trailing NUL from its padding.
    """

    def __init__(self, out: pd.Series | None, cells: np.ndarray | None = None) -> None:
        self.out = out
        self.array = cells
        if cells is None:
            values = out.tolist()
            plain = "\x00" not in "\x01".join(values)
            self.array = np.array(values, dtype=str) if plain and values else None
            self.values = values

    def at(self, pos: int) -> str:
        """The value at 0-based ``pos``."""
        return str(self.array[pos]) if self.out is None else self.out.iloc[pos]

    def series(self) -> pd.Series:
        """The values as a Series of str."""
        if self.out is None:
            self.out = pd.Series(self.array.astype(object), dtype="str")
        return self.out

    def lengths(self) -> np.ndarray:
        """The length of each value, in characters."""
        if self.array is None:
            return np.array([len(v) for v in self.values], dtype=np.int64)
        return np.strings.str_len(self.array)

    def padded(self, width: int, align: str, fill: str = " ") -> np.ndarray | list[str]:
        """Each value padded with blanks (or ``fill`` before a right-aligned value) to
        ``width`` (a ``<U{width}`` array when it can be)."""
        if self.array is None:
            if align == "left":
                return [v.ljust(width) for v in self.values]
            return [v.rjust(width, fill) for v in self.values]
        if align == "left":  # a unicode array pads with NULs: blanks in place of them
            points = self.array.astype(f"<U{width}").view(np.uint32).reshape(-1, width)
            return np.where(points == 0, ord(" "), points).view(f"<U{width}")[:, 0]
        return np.strings.rjust(self.array, width, fill).astype(f"<U{width}")


def _as_list(out) -> list[str]:
    if isinstance(out, np.ndarray) and out.ndim == 2:
        return _matrix_lines(out)
    return out.tolist() if hasattr(out, "tolist") else list(out)


def _fixed_matrix(layout: LayoutSpec, rec: RecordSpec, texts, n: int) -> np.ndarray:
    """The lines of a fixed-width block as one matrix of characters, each row a line and its
    line ending (records x (line length + ending)): the file's bytes as they will be written.

    One byte a character when every character is below 256 (always so for ISO-8859-1 files
    that can be written at all), else four. Every row starts as the record's template (its
    code, blanks, the line ending); each field's column is then copied in.
    """
    length, ending = rec.length, [ord(c) for c in layout.line_ending]
    fields = [(f, _points(out, n, f.width)) for f, out in texts]
    wide = any(p.dtype != np.uint8 and p.size and int(p.max()) > 255 for _f, p in fields)
    matrix = np.empty((n, length + len(ending)), dtype=np.uint32 if wide else np.uint8)
    template = np.full(matrix.shape[1], ord(" "), dtype=matrix.dtype)
    at = layout.code_start - 1
    template[at : at + layout.code_width] = [ord(c) for c in rec.code]
    template[length:] = ending
    _put_columns(matrix, 0, template[None, :])
    for f, points in fields:
        _put_columns(matrix, f.start - 1, points)
    return matrix


def _put_columns(matrix: np.ndarray, start: int, columns: np.ndarray) -> None:
    """``matrix[:, start:start + width] = columns`` (one row of ``columns`` is put in every row),
    each row's part copied as one item.

    Slice assignment copies a row's few bytes in an inner loop of its own, row by row: about
    five times slower over a block of lines than one loop over items of the part's size.
    """
    n, width = matrix.shape[0], columns.shape[1]
    if not n or not width:
        return
    item = f"V{width * matrix.itemsize}"
    source = np.ascontiguousarray(columns, dtype=matrix.dtype).view(item).reshape(len(columns))
    target = np.ndarray(
        (n,), dtype=item, buffer=matrix, offset=start * matrix.itemsize, strides=matrix.strides[:1]
    )
    target[...] = source


def _points(out: np.ndarray, n: int, width: int) -> np.ndarray:
    """A field's padded texts as a matrix of characters: a ``<U`` array's code points, or the
    byte matrix ``packing`` made."""
    if out.ndim == 2:
        return out
    return np.ascontiguousarray(out).view(np.uint32).reshape(n, width)


def _matrix_lines(matrix: np.ndarray, ending: str = "") -> list[str]:
    """The lines of a matrix of characters as strings, less the ``ending`` each row ends with."""
    matrix = matrix[:, : matrix.shape[1] - len(ending)]
    n, length = matrix.shape
    if matrix.dtype != np.uint8:
        return np.ascontiguousarray(matrix).view(f"<U{length}")[:, 0].tolist()
    text = matrix.tobytes().decode("iso-8859-1")
    return [text[i : i + length] for i in range(0, n * length, length)]


def _fast_bytes(layout: LayoutSpec, results: list, total: int) -> bytes | None:
    """The file's bytes straight from the blocks' byte matrices, when that is the same file.

    So when every block is a byte matrix standing on consecutive lines, no value holds a
    control character (a line break: the slow path names it), and every byte is the character
    itself (ISO-8859-1, or only ASCII). Otherwise None: the lines are joined and encoded as
    strings.
    """
    parts = sorted(results, key=lambda r: int(r[0].positions[0]))
    at = 0
    for block, matrix in parts:
        if not isinstance(matrix, np.ndarray) or matrix.dtype != np.uint8:
            return None
        expected = np.arange(at, at + len(matrix))
        if not np.array_equal(block.positions, expected):
            return None
        at += len(matrix)
    if at != total:
        return None
    if not all(_plain_lines(layout, matrix) for _block, matrix in parts):
        return None
    return b"".join(memoryview(matrix) for _block, matrix in parts)  # one copy, not two


def _plain_lines(layout: LayoutSpec, matrix: np.ndarray) -> bool:
    """Are a block's lines (a matrix of lines with their endings) the file's bytes as they
    stand? Not when a control character is there besides the line endings (a value with a
    line break is named on the way through strings), nor a byte that is not its character in
    the encoding (a four-byte matrix, or UTF-8 beyond ASCII)."""
    if matrix.dtype != np.uint8:
        return False
    # each row is a line and then its ending (_format_block); reductions over views, so no
    # temporary as large as the file is made
    cut = matrix.shape[1] - len(layout.line_ending)
    ending = np.frombuffer(layout.line_ending.encode("ascii"), dtype=np.uint8)
    if not np.array_equal(matrix[:, cut:], np.broadcast_to(ending, (len(matrix), len(ending)))):
        return False
    body = matrix[:, :cut]
    if body.size and body.min() < 32:
        return False
    return layout.encoding == "iso-8859-1" or body.size == 0 or body.max() < 128


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _surely_writable(layout: LayoutSpec, f, values: pd.Series) -> bool:
    """True when one test of the whole column shows that no value of it can be refused.

    The common case (a clean column) costs a join and a few C-level scans instead of pandas
    string work per value. The test is conservative: anything it is not sure of (a missing
    required value, a control character anywhere, a character outside the encoding, a value
    that might be too long, a non-text value, a value not in the field's codes) returns False, and
    ``_unwritable_text`` then finds the reasons value by value.
    """
    raw = values.to_numpy(dtype=object)
    missing = pd.isna(raw)
    required = f.required and f.const is None
    if missing.any():
        if required:
            return False
        raw = raw[~missing]
    try:
        joined = "".join(raw)
    except TypeError:  # a number or another non-text value: let the careful path convert it
        return False
    if _CONTROL.search(joined):
        return False
    if layout.kind == "delimited" and layout.delimiter in joined:
        return False
    try:
        joined.encode(layout.encoding)
    except UnicodeEncodeError:
        return False
    if f.width is not None and len(raw) and max(map(len, raw)) > f.width:
        return False
    if required and not all(map(str.strip, raw)):
        return False
    # a field with a list of codes: the few distinct values, stripped as the writer strips them
    return f.values is None or all(v.strip() in f.values for v in set(raw) if v.strip())


def _unwritable_text(layout: LayoutSpec, f, values: pd.Series) -> pd.Series:
    """Per value of one text field: why the layout cannot carry it ('' when it can)."""
    text = as_strings(values).str.strip()
    why = pd.Series("", index=values.index, dtype=object)

    def mark(mask, reasons) -> None:
        mask = np.asarray(mask, dtype=bool) & (why == "").to_numpy()
        if mask.any():
            why[mask] = reasons[mask] if isinstance(reasons, pd.Series) else reasons

    if f.required and f.const is None:
        mark(text == "", f"{f.name}: missing required value")
    control = text.str.contains(_CONTROL.pattern, regex=True).to_numpy()
    if control.any():
        first = text[control].map(lambda v: repr(_CONTROL.search(v).group()))
        mark(control, (f.name + ": control character " + first).reindex(text.index))
    if layout.kind == "delimited":
        mark(
            text.str.contains(layout.delimiter, regex=False),
            f"{f.name}: {layout.delimiter!r} is the file's delimiter",
        )
    # characters outside the file's encoding: only the few non-ASCII values are tried one by one
    candidates = text[text.str.contains(r"[^\x00-\x7f]", regex=True) & (why == "")]
    for index, value in candidates.items():
        try:
            value.encode(layout.encoding)
        except UnicodeEncodeError as err:
            why[index] = f"{f.name}: {value[err.start]!r} not in {layout.encoding.upper()}"
    if f.width is not None:
        mark(
            text.str.len() > f.width,
            f"{f.name}: longer than its {f.width} characters",
        )
    if f.values is not None:
        mark(
            (text != "") & ~text.isin(f.values),
            f.name + ": " + text.map(repr) + f" is not one of {sorted(f.values)}",
        )
    return why


def unwritable_values(
    layout: LayoutSpec, details: pd.DataFrame, detail_type: str = "detail"
) -> pd.Series:
    """For each row of ``details`` that the layout cannot write, why: ``"<field>: <problem>"``.

    Checks the text fields the way the writer would refuse them (encoding, delimiter, line
    breaks and other control characters, width, allowed codes, required), for every row at
    once, so that a caller can hold those rows back and write the rest. Returns a Series of
    reasons indexed like ``details`` (rows that can be written are left out).
    """
    rec = layout.records[detail_type]
    reasons = pd.Series("", index=details.index, dtype=object)
    for f in rec.fields:
        if f.type != "text" or f.name not in details.columns:
            continue
        if _surely_writable(layout, f, details[f.name]):
            continue
        why = _unwritable_text(layout, f, details[f.name])
        reasons = reasons.where(reasons != "", why)
    return reasons[reasons != ""]


class StreamWriter:
    """A file written chunk by chunk: header first, detail chunks appended, the trailer last.

    ``out`` is a binary file object. The trailer's controls are summed over the chunks as they
    are written, so no chunk is kept. Errors name the line the value would have had in the
    whole file (and the 0-based row of the whole detail input). Same bytes as ``write_file``
    with all chunks at once.
    """

    def __init__(self, layout: LayoutSpec, out, header: dict[str, Any] | None, **kw) -> None:
        self.layout, self.out = layout, out
        self.detail_type = kw.get("detail_type", "detail")
        self.name = kw.get("file_name") or f"{layout.name} (writing)"
        if self.detail_type not in layout.records:
            raise FormatError(self.name, None, None, f"no detail record type {self.detail_type!r}")
        self.first_line = 2 if layout.column_names else 1
        self.lines = 0  # records written (the column-names line not counted)
        self.rows = 0  # detail rows written
        self.size = 0
        self.sums = {c.field: 0 for c in layout.trailer.controls} if layout.trailer else {}
        if layout.column_names:
            rec = layout.records[layout.column_names]
            names = layout.delimiter.join(["record_type", *rec.field_names])
            self._emit([names], None)
            self.lines = 0
        if layout.header is not None:
            self._block(layout.header, _frame([header or {}], layout.header))
        elif header:
            raise FormatError(self.name, None, None, f"layout {layout.name} has no header record")

    def _emit(self, lines: list[str], blocks) -> None:
        line_of_first = self.lines + self.first_line
        data = _encode(self.layout, lines, self.name, line_of_first, blocks, self.first_line)
        self._write(data, len(lines))

    def _write(self, data: bytes, lines: int) -> None:
        self.out.write(data)
        self.size += len(data)
        self.lines += lines

    def _block(self, rec: RecordSpec, frame: pd.DataFrame, rows: np.ndarray | None = None) -> None:
        n = len(frame)
        positions = np.arange(n) + self.lines
        block = _Block(rec, frame, positions, np.arange(n) if rows is None else rows)
        formatted = _format_block(self.layout, block, self.name, self.first_line)
        if isinstance(formatted, np.ndarray):  # a fixed-width block comes as a character matrix
            if _plain_lines(self.layout, formatted):  # its bytes as they stand
                self._write(formatted.tobytes(), n)
                return
            formatted = _matrix_lines(formatted, self.layout.line_ending)
        self._emit(formatted, [block])

    def append(self, details: pd.DataFrame) -> None:
        """Write one chunk of detail rows (columns named as the detail record's fields)."""
        if len(details) == 0:
            return
        rec = self.layout.records[self.detail_type]
        frame = _frame(details, rec)
        self._block(rec, frame, np.arange(len(frame)) + self.rows)
        trailer = self.layout.trailer
        for control in trailer.controls if trailer else ():
            if control.sum and self.detail_type in control.of and control.sum in frame:
                self.sums[control.field] += sum(int(v) for v in frame[control.sum].dropna())
            elif self.detail_type in control.count:
                self.sums[control.field] += len(frame)
        self.rows += len(frame)

    def finish(self, trailer: dict[str, Any] | None = None) -> int:
        """Write the trailer with its controls; returns the file's size in bytes."""
        rec = self.layout.trailer
        if rec is None:
            return self.size
        values = dict(trailer or {})
        for control in rec.controls:
            extra = 0
            for t in control.count:  # header and trailer records count one each, if counted
                if t != self.detail_type and t in (
                    rec.type,
                    getattr(self.layout.header, "type", None),
                ):
                    extra += 1
            values[control.field] = self.sums[control.field] + extra
        self._block(rec, _frame([values], rec))
        return self.size
