"""Reading a file: decode, split into lines, tell record types apart, cut fields column by column,
then check the structure (header first, trailer last) and the trailer's controls.

A file is read in blocks of lines (``iter_chunks``); ``read_file`` is one block holding the whole
file. Within a block every check runs over whole columns and the error raised is the one on the
earliest line, stage by stage (lines and types, structure, values), so the message points at the
first thing wrong. What only the whole file can tell (header first, trailer last, the trailer's
counts and sums) is accumulated across blocks and checked when the last block is read.

Fixed-width blocks never pass through Python strings line by line: the block's characters are one
numpy array (bytes for ISO-8859-1 and ASCII, code points otherwise), each record type's lines a
matrix of it, and each field a slice of columns viewed as a fixed-width unicode array.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from inkasso.formats.codec import (
    CONTROL_CHARACTERS,
    FieldProblem,
    control_character,
    exact_sum,
    from_text,
)
from inkasso.formats.errors import FormatError
from inkasso.formats.parsed import ParsedChunk, ParsedFile

if TYPE_CHECKING:
    from inkasso.formats.spec import LayoutSpec

DEFAULT_CHUNK_ROWS = 100_000
_LF, _CR, _SPACE = 10, 13, 32


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


# ------------------------------------------------------------------------------ public entry


def read_file(layout: LayoutSpec, data: bytes, file_name: str) -> ParsedFile:
    """Parse ``data`` with ``layout`` (see ``Layout.read``): the whole file as one block."""
    state = _FileState(layout, file_name)
    chunk = _read_block(state, data, 1, last=True)
    return ParsedFile(file_name, layout, chunk._frames, chunk._lines)


def iter_chunks(
    layout: LayoutSpec,
    source: bytes | str | os.PathLike | IO[bytes],
    file_name: str | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Iterator[ParsedChunk]:
    """Read a file in blocks of at most ``chunk_rows`` lines; yield one ``ParsedChunk`` per block.

    ``source`` is the file's bytes, a path, or a binary file object (read from where it stands).
    Memory is bounded by a block, not by the file. Each chunk's records are checked as in
    ``read_file``; line numbers are the file's. The file's header is on every chunk
    (``chunk.header``); the trailer on the last. The whole-file checks (header first, trailer last,
    trailer counts and sums) are made when the last block is read, before the last chunk is
    yielded: a caller must treat nothing as valid until the iterator ends without a
    ``FormatError`` (stage the chunks in one transaction, commit after the loop).
    """
    if chunk_rows < 1:
        raise ValueError("chunk_rows must be at least 1")
    name = file_name or (str(source) if isinstance(source, str | os.PathLike) else "(stream)")
    state = _FileState(layout, name)
    with _open(source) as stream:
        for block, first_line, last in _line_blocks(stream, chunk_rows):
            chunk = _read_block(state, block, first_line, last=last)
            if chunk.rows or last:
                yield chunk


class _open:
    """A context giving a binary stream over bytes, a path or an open file (left open)."""

    def __init__(self, source) -> None:
        self.source, self.owned = source, None

    def __enter__(self) -> IO[bytes]:
        if isinstance(self.source, bytes | bytearray | memoryview):
            return io.BytesIO(self.source)
        if isinstance(self.source, str | os.PathLike):
            self.owned = open(self.source, "rb")  # noqa: SIM115 - closed in __exit__
            return self.owned
        return self.source

    def __exit__(self, *exc) -> None:
        if self.owned is not None:
            self.owned.close()


def _line_blocks(stream: IO[bytes], rows: int) -> Iterator[tuple[bytes, int, bool]]:
    """(block, its first 1-based line, is it the last) of at most ``rows`` lines each.

    A block ends after a LF (a UTF-8 LF byte is never part of another character). Lines that
    are only blank at the very end of the file go with the last block, which drops them.
    """
    read_size = min(max(rows * 64, 1 << 16), 1 << 26)
    carry, line, eof = b"", 1, False
    while True:
        pieces, breaks = [carry], carry.count(b"\n")
        while not eof and breaks <= rows:  # a line beyond the block: to know what follows
            more = stream.read(read_size)
            eof = not more
            pieces.append(more)
            breaks += more.count(b"\n")
        carry = b"".join(pieces)
        cut = _nth_lf(carry, rows, breaks) if breaks >= rows else None
        while cut is not None and not eof and not carry[cut:].strip():
            more = stream.read(read_size)  # what follows is blank so far: read on to know
            eof = not more
            carry += more
        if cut is None or (eof and not carry[cut:].strip()):
            yield carry, line, True
            return
        yield carry[:cut], line, False
        carry = carry[cut:]
        line += rows


def _nth_lf(data: bytes, n: int, count: int) -> int:
    """The offset just after the ``n``-th LF of ``data``, which holds ``count`` >= n of them."""
    if count == n and data.endswith(b"\n"):
        return len(data)
    where = np.flatnonzero(np.frombuffer(data, dtype=np.uint8) == _LF)
    return int(where[n - 1]) + 1


# ------------------------------------------------------------------------------ file state


class _FileState:
    """What the blocks read so far tell about the whole file: header, trailer, counts, sums."""

    def __init__(self, layout: LayoutSpec, file_name: str) -> None:
        self.layout, self.file_name = layout, file_name
        self.records = 0
        self.header: dict[str, Any] = {}
        self.trailer: dict[str, Any] = {}
        self.trailer_line: int | None = None
        self.last: tuple[str, int] | None = None  # type and line of the last record so far
        self.counts: dict[str, int] = {}
        self.sums: dict[tuple[str, str], int] = {}

    def fail(self, line, field, reason) -> FormatError:
        return FormatError(self.file_name, None if line is None else int(line), field, reason)

    def structure(self, types: np.ndarray, line_no: np.ndarray, last: bool) -> None:
        """Header first and once, trailer last and once, across blocks."""
        header, trailer = self.layout.header, self.layout.trailer
        if header is not None and len(types):
            if self.records == 0 and types[0] != header.type:
                raise self.fail(
                    line_no[0], "record_type", f"missing header: first record is {types[0]}"
                )
            skip = 1 if self.records == 0 else 0
            again = np.flatnonzero(types[skip:] == header.type)
            if len(again):
                raise self.fail(line_no[again[0] + skip], "record_type", "a second header")
        if trailer is not None:
            if self.trailer_line is not None and len(types):
                raise self.fail(line_no[0], "record_type", "record after the trailer")
            ends = np.flatnonzero(types == trailer.type)
            if len(ends) and ends[0] != len(types) - 1:
                raise self.fail(line_no[ends[0] + 1], "record_type", "record after the trailer")
            if last and not len(ends) and self.trailer_line is None:
                what, line = (types[-1], line_no[-1]) if len(types) else self.last
                raise self.fail(line, "record_type", f"missing trailer: last record is {what}")

    def add(self, frames: dict[str, pd.DataFrame], lines: dict[str, np.ndarray]) -> None:
        """Count a checked block's records and sum the trailer's controlled fields."""
        for rtype, frame in frames.items():
            self.counts[rtype] = self.counts.get(rtype, 0) + len(frame)
            self.records += len(frame)
        last = max(((t, int(v[-1])) for t, v in lines.items() if len(v)), key=lambda p: p[1])
        self.last = last
        trailer = self.layout.trailer
        if trailer is None:
            return
        if trailer.type in frames:
            self.trailer_line = int(lines[trailer.type][0])
        for control in trailer.controls:
            for t in control.of:
                if t in frames:
                    column = frames[t][control.sum]
                    total = exact_sum(column)
                    key = (t, control.sum)
                    self.sums[key] = self.sums.get(key, 0) + total

    def check_controls(self) -> None:
        """The trailer's counts and sums against what the whole file held."""
        trailer = self.layout.trailer
        if trailer is None:
            return
        for control in trailer.controls:
            stated = self.trailer.get(control.field)
            if control.count:
                actual = sum(self.counts.get(t, 0) for t in control.count)
                what = f"{' + '.join(control.count)} records"
            else:
                actual = sum(self.sums.get((t, control.sum), 0) for t in control.of)
                what = f"sum of {control.sum}"
            if stated is None or int(stated) != actual:
                raise self.fail(
                    self.trailer_line,
                    control.field,
                    f"control mismatch: trailer says {stated}, the file has {actual} ({what})",
                )


# ------------------------------------------------------------------------------ one block


def _read_block(state: _FileState, data: bytes, first: int, last: bool) -> ParsedChunk:
    """Parse and check one block of whole lines starting at file line ``first``."""
    layout, name = state.layout, state.file_name
    if layout.kind == "fixed":
        block = _FixedBlock(layout, data, first, last, name)
    else:
        block = _DelimitedBlock(layout, data, first, last, name, with_names=first == 1)
    if state.records == 0 and block.n == 0 and last:
        raise state.fail(None, None, "empty file: no records")
    types = np.empty(block.n, dtype=object)
    cells: dict[str, dict[str, np.ndarray]] = {}
    positions: dict[str, np.ndarray] = {}
    if block.n:
        # stage 1: record types and line shapes
        problems = _Problems(name)
        kinds = block.classify(problems)
        order = np.argsort(kinds, kind="stable")  # lines grouped by type, in file order within
        bounds = np.searchsorted(kinds[order], np.arange(len(state.layout.records) + 1))
        for index, rec in enumerate(state.layout.records.values()):
            idx = order[bounds[index] : bounds[index + 1]]
            if len(idx):
                positions[rec.type] = idx
                types[idx] = rec.type
                cells[rec.type] = block.cut(rec, idx, problems)
        block.find_controls(positions, cells, problems)
        problems.raise_first()
    line_no = block.line_no
    # stage 2: structure
    state.structure(types, line_no, last)
    # stage 3: field values
    frames = _values(state, cells, positions, line_no)
    lines = {t: line_no[idx] for t, idx in positions.items()}
    header = state.layout.header
    if header is not None and header.type in frames and not state.header:
        state.header = _first_row(frames[header.type])
    if frames:
        state.add(frames, lines)
    trailer = state.layout.trailer
    if trailer is not None and trailer.type in frames:
        state.trailer = _first_row(frames[trailer.type])
    if last:
        if state.records == 0:
            raise state.fail(None, None, "empty file: no records")
        state.check_controls()
    return ParsedChunk(
        state.file_name,
        state.layout,
        frames,
        lines,
        header=state.header,
        trailer=state.trailer if last else {},
        last=last,
    )


def _first_row(frame: pd.DataFrame) -> dict[str, Any]:
    from inkasso.formats.parsed import _plain

    return {k: _plain(v) for k, v in frame.iloc[0].items()}


def _values(state: _FileState, cells, positions, line_no) -> dict[str, pd.DataFrame]:
    """Stage 3: every field of every record type converted; the earliest bad value raised."""
    problems = _Problems(state.file_name)
    frames: dict[str, pd.DataFrame] = {}
    for rtype, raw in cells.items():
        rec = state.layout.records[rtype]
        columns = {}
        for f in rec.fields:
            try:
                columns[f.name] = from_text(f, raw[f.name])
            except FieldProblem as problem:
                problems.add(line_no[positions[rtype][problem.position]], f.name, problem.reason)
        n = len(positions[rtype])
        frames[rtype] = pd.DataFrame(columns, index=pd.RangeIndex(n), copy=False)
    problems.raise_first()
    return frames


# ------------------------------------------------------------------------------ fixed width


class _FixedBlock:
    """The lines of a fixed-width block as one array of characters with line bounds."""

    def __init__(self, layout: LayoutSpec, data: bytes, first: int, last: bool, name: str) -> None:
        self.layout, self.name = layout, name
        self.chars = _characters(layout, data, first, name)
        chars = self.chars
        breaks = np.flatnonzero(chars == _LF)
        starts = np.concatenate(([0], breaks + 1))
        ends = np.concatenate((breaks, [len(chars)]))
        if ends[-1] == starts[-1]:
            starts, ends = starts[:-1], ends[:-1]
        has_cr = np.zeros(len(starts), dtype=bool)
        nonempty = ends > starts
        has_cr[nonempty] = chars[ends[nonempty] - 1] == _CR
        if layout.line_ending != "\r\n":
            for i in np.flatnonzero(has_cr)[:1]:
                raise FormatError(
                    name, first + i, None, "CR LF line ending in a file with LF endings"
                )
        else:
            missing = ~has_cr
            if last and len(missing):
                missing[-1] = False
            for i in np.flatnonzero(missing)[:1]:
                raise FormatError(name, first + i, None, "line ends without CR (expected CR LF)")
        self.starts, self.ends = starts, ends - has_cr
        self.terminators = len(breaks) + int(np.count_nonzero(has_cr))
        n = len(starts)
        if last:
            while n and self.text(n - 1).strip() == "":
                n -= 1  # blank lines at the very end are not records
        self.n = n
        self.starts, self.ends = self.starts[:n], self.ends[:n]
        self.lens = self.ends - self.starts
        self.line_no = np.arange(n) + first
        if layout.encoding == "iso-8859-1":
            self.refuse_utf8()

    def refuse_utf8(self) -> None:
        """Raise where the block holds a UTF-8 encoded letter (`_utf8_letter`): the file was
        saved in UTF-8, and read as ISO-8859-1 its text would be garbled ('å' as 'Ã¥')."""
        at = _utf8_letter(self.chars)
        if at is None:
            return
        i = int(np.searchsorted(self.starts, at, side="right")) - 1
        column = at - int(self.starts[i]) + 1
        line = self.text(i)
        layout = self.layout
        code = line[layout.code_start - 1 : layout.code_start - 1 + layout.code_width]
        field = next(
            (
                f.name
                for rec in layout.records.values()
                if rec.code == code
                for f in rec.fields
                if f.start <= column < f.start + f.width
            ),
            None,
        )
        letter = self.chars[at : at + 2].tobytes()
        raise FormatError(
            self.name,
            int(self.line_no[i]),
            field,
            f"bytes {letter.hex()} at column {column} are {letter.decode('utf-8')!r} in UTF-8: "
            f"the file is UTF-8, its layout {layout.encoding.upper()}",
        )

    def rows(self, at: np.ndarray, width: int) -> np.ndarray:
        """The ``width`` characters from each offset ``at`` (at most the block's length) as the
        rows of a new matrix, blank past the block's end.

        One gather of whole rows from a sliding view of the characters; only the rows that run
        past the end are cut from a short blank-padded copy of the block's tail.
        """
        chars = self.chars
        tail_from = max(len(chars) - width + 1, 0)  # a row from here runs past the end
        if tail_from:
            view = np.lib.stride_tricks.sliding_window_view(chars, width)
            out = view[np.minimum(at, tail_from - 1)]
        else:
            out = np.empty((len(at), width), dtype=chars.dtype)
        late = np.flatnonzero(at >= tail_from)
        if len(late):
            pad = np.full(width, _SPACE, dtype=chars.dtype)
            tail = np.concatenate((chars[tail_from:], pad))
            out[late] = np.lib.stride_tricks.sliding_window_view(tail, width)[at[late] - tail_from]
        return out

    def text(self, i: int) -> str:
        """Line ``i`` of the block as a Python string (for messages and odd lines only)."""
        part = self.chars[self.starts[i] : self.ends[i]]
        if part.dtype == np.uint8:
            return part.tobytes().decode("iso-8859-1")
        return part.astype("<u4").tobytes().decode("utf-32-le")

    def classify(self, problems: _Problems) -> np.ndarray:
        """Each line's record type as its index in the layout (-1 when unknown), in one pass.

        The code's characters are folded into one integer per line, so telling the types apart
        is one integer comparison per type.
        """
        layout, chars = self.layout, self.chars
        width = layout.code_width
        at = self.starts + layout.code_start - 1
        window = self.rows(np.minimum(at, len(chars)), width).astype(np.int64)
        folded = np.zeros(self.n, dtype=np.int64)
        for j in range(width):
            folded = folded * 0x110000 + window[:, j]
        folded[at + width > self.ends] = -1  # the line ends before its code does
        kinds = np.full(self.n, -1, dtype=np.int64)
        for index, rec in enumerate(layout.records.values()):
            value = 0
            for c in rec.code:
                value = value * 0x110000 + ord(c)
            kinds[folded == value] = index
        self._report_unknown(np.flatnonzero(kinds < 0), problems)
        return kinds

    def _report_unknown(self, unknown: np.ndarray, problems: _Problems) -> None:
        """The first empty line and the first line of an unknown type, as the checks name them."""
        layout = self.layout
        blank_done = other_done = False
        for i in unknown.tolist():
            text = self.text(i)
            if text.strip() == "":
                if not blank_done:
                    problems.add(self.line_no[i], None, "empty line")
                blank_done = True
            elif not other_done:
                code = text[layout.code_start - 1 : layout.code_start - 1 + layout.code_width]
                problems.add(self.line_no[i], "record_type", f"unknown record type {code!r}")
                other_done = True
            if blank_done and other_done:
                break

    def cut(self, rec, idx: np.ndarray, problems: _Problems) -> dict[str, np.ndarray]:
        """The fields of the lines ``idx`` (all of type ``rec``) as fixed-width unicode arrays."""
        length, lens, lines = rec.length, self.lens[idx], self.line_no[idx]
        if self.layout.lenient_length:
            for i in np.flatnonzero(lens > length).tolist():
                if self.text(idx[i])[length:].strip() != "":
                    problems.add(
                        lines[i],
                        None,
                        f"wrong line length: {lens[i]} characters, expected {length}",
                    )
                    break
        else:
            _length_problems(problems, lines, lens, length, "characters")
        # the lines as one (records x length) matrix: one gather, then each field is a view
        matrix = self.rows(np.minimum(self.starts[idx], len(self.chars)), length)
        short = lens < length
        if short.any():
            # past a short line's end: blanks, as ljust would (only lenient layouts get on)
            beyond = np.arange(length)[None, :] >= lens[short][:, None]
            matrix[short] = np.where(beyond, _SPACE, matrix[short])
        return {f.name: matrix[:, f.start - 1 : f.start - 1 + f.width] for f in rec.fields}

    def find_controls(self, positions: dict, cells: dict, problems: _Problems) -> None:
        """Name the first line and field holding a control character (NUL, ESC, ...), if any.

        Checked on the raw characters, before stripping (which takes \\x1c-\\x1f and tabs for
        blanks), on every database alike: PostgreSQL cannot store a NUL, SQLite would keep it.
        """
        chars = self.chars
        # the usual case, told by counting alone: the only C0 characters are the line endings
        if _controls(chars) == self.terminators:
            return
        where = np.flatnonzero((chars < _SPACE) | (chars == 127))
        line = np.searchsorted(self.starts, where, side="right") - 1
        keep = (line >= 0) & (line < self.n)
        where, line = where[keep], line[keep]
        inside = where < self.ends[line]
        known = np.zeros(self.n, dtype=bool)
        for idx in positions.values():
            known[idx] = True
        bad = line[inside & known[line]]
        if not len(bad):
            return
        i = int(bad[0])
        rtype = next(t for t, idx in positions.items() if i in set(idx.tolist()))
        rec = self.layout.records[rtype]
        text = self.text(i)
        if self.layout.lenient_length:
            text = text[: rec.length].ljust(rec.length)
        for f in rec.fields:
            value = text[f.start - 1 : f.start - 1 + f.width]
            char = control_character(value)
            if char is not None:
                problems.add(self.line_no[i], f.name, f"control character {char} in {value!r}")
                return
        char = control_character(self.text(i))
        problems.add(self.line_no[i], None, f"control character {char} outside the fields")


def _controls(chars: np.ndarray, step: int = 1 << 18) -> int:
    """How many control characters (C0 and DEL) ``chars`` holds, counted a slice at a time so
    that the masks stay small (a mask of the whole block would be as large as the block)."""
    found = 0
    for at in range(0, len(chars), step):
        part = chars[at : at + step]
        found += np.count_nonzero(part < _SPACE) + np.count_nonzero(part == 127)
    return found


def _utf8_letter(chars: np.ndarray, step: int = 1 << 18) -> int | None:
    """Offset of the first UTF-8 encoded Latin-1 letter (byte C3, then 80-BF) in the bytes of a
    file meant to be ISO-8859-1, or None. Read as ISO-8859-1 that pair is 'Ã' and a control or
    symbol character, which no real text holds; every Nordic letter in UTF-8 is such a pair.
    Looked for a slice at a time, so that the masks stay small."""
    if chars.dtype != np.uint8:
        return None
    for at in range(0, len(chars), step):
        part = chars[at : at + step + 1]
        lead = np.flatnonzero(part[:-1] == 0xC3)
        if len(lead):
            follow = part[lead + 1]
            hit = lead[(follow >= 0x80) & (follow <= 0xBF)]
            if len(hit):
                return at + int(hit[0])
    return None


def _characters(layout: LayoutSpec, data: bytes, first: int, name: str) -> np.ndarray:
    """The block's characters: its bytes when one byte is one character, else its code points."""
    if layout.encoding == "iso-8859-1" or data.isascii():
        return np.frombuffer(data, dtype=np.uint8)
    text = _decode(layout, data, first, name)
    return np.frombuffer(text.encode("utf-32-le"), dtype="<u4")


def _decode(layout: LayoutSpec, data: bytes, first: int, file_name: str) -> str:
    try:
        return data.decode(layout.encoding)
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + first
        column = err.start - (data.rfind(b"\n", 0, err.start) + 1) + 1
        bad = data[err.start : err.end]
        raise FormatError(
            file_name,
            line,
            None,
            f"not valid {layout.encoding}: byte {bad.hex()} at column {column}",
        ) from None


# ------------------------------------------------------------------------------ delimited


class _DelimitedBlock:
    """The lines of a delimited block as Python strings, cut with pandas' string methods."""

    def __init__(self, layout, data: bytes, first: int, last: bool, name: str, with_names: bool):
        self.layout, self.name = layout, name
        if layout.encoding == "iso-8859-1":
            _refuse_utf8_delimited(layout, data, first, name)
        lines = _split_lines(layout, _decode(layout, data, first, name), first, last, name)
        if with_names and layout.column_names:
            expected = layout.delimiter.join(
                ["record_type", *layout.records[layout.column_names].field_names]
            )
            if not lines or lines[0] != expected:
                got = lines[0] if lines else ""
                raise FormatError(
                    name, 1, None, f"column names line {got!r}, expected {expected!r}"
                )
            lines, first = lines[1:], first + 1
        self.n = len(lines)
        self.series = pd.Series(lines, dtype=object).astype(str)
        self.line_no = np.arange(self.n) + first

    def classify(self, problems: _Problems) -> np.ndarray:
        """Each line's record code ('' when unknown)."""
        series = self.series
        codes = series.str.split(self.layout.delimiter, n=1, regex=False).str[0]
        known_codes = [rec.code for rec in self.layout.records.values()]
        known = codes.isin(known_codes).to_numpy()
        blank = (series.str.strip() == "").to_numpy()
        for i in np.flatnonzero(~known & blank)[:1]:
            problems.add(self.line_no[i], None, "empty line")
        for i in np.flatnonzero(~known & ~blank)[:1]:
            problems.add(self.line_no[i], "record_type", f"unknown record type {codes.iloc[i]!r}")
        index = {code: i for i, code in enumerate(known_codes)}
        return codes.map(index).fillna(-1).to_numpy(dtype=np.int64)

    def cut(self, rec, idx: np.ndarray, problems: _Problems) -> dict[str, np.ndarray]:
        """The fields of the lines ``idx`` (all of type ``rec``), one array per field."""
        sub = self.series.iloc[idx].reset_index(drop=True)
        lines = self.line_no[idx]
        expected = len(rec.fields) + 1
        parts = sub.str.split(self.layout.delimiter, regex=False)
        counts = parts.str.len().to_numpy()
        _length_problems(problems, lines, counts, expected, "columns")
        if (counts != expected).any():
            parts = parts.map(lambda p: (p + [""] * expected)[:expected])
        table = [list(col) for col in zip(*parts.tolist(), strict=False)]
        if not table:
            table = [[""] * len(sub) for _ in range(expected)]
        # object arrays: a NUL at the end of a value must survive to be named by find_controls
        return {f.name: np.asarray(table[i + 1], dtype=object) for i, f in enumerate(rec.fields)}

    def find_controls(self, positions: dict, cells: dict, problems: _Problems) -> None:
        """Name the first line and field (per record type) holding a control character."""
        for rtype, idx in positions.items():
            sub = self.series.iloc[idx]
            bad = sub.str.contains(CONTROL_CHARACTERS, regex=True).to_numpy()
            if not bad.any():
                continue
            first = int(np.flatnonzero(bad)[0])
            line = self.line_no[idx[first]]
            for f in self.layout.records[rtype].fields:
                value = str(cells[rtype][f.name][first])
                char = control_character(value)
                if char is not None:
                    problems.add(line, f.name, f"control character {char} in {value!r}")
                    break
            else:
                char = control_character(sub.iloc[first])
                problems.add(line, None, f"control character {char} outside the fields")


def _refuse_utf8_delimited(layout: LayoutSpec, data: bytes, first: int, name: str) -> None:
    """As ``_FixedBlock.refuse_utf8`` for a delimited block: the field is told by the number of
    delimiters before the letter."""
    at = _utf8_letter(np.frombuffer(data, dtype=np.uint8))
    if at is None:
        return
    start = data.rfind(b"\n", 0, at) + 1
    before = data[start:at].decode("iso-8859-1").split(layout.delimiter)
    code, index = before[0], len(before) - 1
    field = "record_type" if index == 0 else None
    for rec in layout.records.values():
        if index and rec.code == code and index <= len(rec.fields):
            field = rec.fields[index - 1].name
    letter = data[at : at + 2]
    raise FormatError(
        name,
        data.count(b"\n", 0, at) + first,
        field,
        f"bytes {letter.hex()} at column {at - start + 1} are {letter.decode('utf-8')!r} in "
        f"UTF-8: the file is UTF-8, its layout {layout.encoding.upper()}",
    )


def _split_lines(
    layout: LayoutSpec, text: str, first: int, last: bool, file_name: str
) -> list[str]:
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    crlf = layout.line_ending == "\r\n"
    for i, line in enumerate(lines):
        if line.endswith("\r"):
            if not crlf:
                raise FormatError(
                    file_name, first + i, None, "CR LF line ending in a file with LF endings"
                )
            lines[i] = line[:-1]
        elif crlf and (i < len(lines) - 1 or not last):
            raise FormatError(file_name, first + i, None, "line ends without CR (expected CR LF)")
    if last:
        while lines and lines[-1].strip() == "":
            lines.pop()  # blank lines at the very end are not records
    return lines


def _length_problems(problems, lines, counts: np.ndarray, expected: int, unit: str) -> None:
    """Note the first line shorter than ``expected`` (truncated) and the first longer one."""
    for i in np.flatnonzero(counts < expected)[:1]:
        problems.add(lines[i], None, f"truncated line: {counts[i]} {unit}, expected {expected}")
    for i in np.flatnonzero(counts > expected)[:1]:
        problems.add(lines[i], None, f"wrong line length: {counts[i]} {unit}, expected {expected}")
