"""The result of reading a file: header, trailer, records in file order, details as frames."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from inkasso.formats.spec import LayoutSpec


@dataclass(frozen=True)
class Record:
    """One record of a file: its type, its 1-based line number and its field values."""

    type: str
    line: int
    values: dict[str, Any]


def _plain(value: Any) -> Any:
    """numpy / pandas scalars as plain Python values (None for missing)."""
    if value is None or value is pd.NA:
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


class ParsedFile:
    """A file read and checked against its layout.

    Values: text as ``str`` (trimmed; '' when blank), integer and amount as ``int`` (øre; in
    frames ``int64``, or nullable ``Int64`` when an optional field is blank somewhere), dates as
    ``datetime.date`` (None when blank).
    """

    def __init__(
        self,
        file_name: str,
        layout: LayoutSpec,
        frames: dict[str, pd.DataFrame],
        lines: dict[str, np.ndarray],
    ) -> None:
        self.file_name = file_name
        self.layout = layout
        self._frames = frames
        self._lines = lines
        # the columns of a record type's frame when the file holds none of its records
        self._columns = {t: r.field_names for t, r in layout.records.items()}
        self._records: list[Record] | None = None

    def _single(self, role_spec) -> dict[str, Any]:
        if role_spec is None or role_spec.type not in self._frames:
            return {}
        row = self._frames[role_spec.type].iloc[0]
        return {k: _plain(v) for k, v in row.items()}

    @property
    def header(self) -> dict[str, Any]:
        """The header record's values ({} when the layout has no header)."""
        return self._single(self.layout.header)

    @property
    def trailer(self) -> dict[str, Any]:
        """The trailer record's values ({} when the layout has no trailer)."""
        return self._single(self.layout.trailer)

    def count(self, record_type: str) -> int:
        """How many records of this type the file holds."""
        return len(self._lines.get(record_type, ()))

    def lines_of(self, record_type: str) -> np.ndarray:
        """The 1-based line numbers of the records of one type, in file order."""
        return self._lines.get(record_type, np.array([], dtype=int))

    def frame(self, record_type: str) -> pd.DataFrame:
        """All records of one type as a frame (shared, do not modify; see ``details``)."""
        if record_type in self._frames:
            return self._frames[record_type]
        return pd.DataFrame(columns=self._columns[record_type])

    def details(self, type: str = "detail", with_line: bool = False) -> pd.DataFrame:
        """The records of one (detail) type as a new frame, columns named as the fields.

        With ``with_line`` a ``line`` column gives each record's 1-based line in the file.
        """
        if type not in self._columns:
            raise KeyError(f"layout {self.layout.name} has no record type {type!r}")
        frame = self.frame(type).copy()
        if with_line:
            frame["line"] = self.lines_of(type)
        return frame

    @property
    def records(self) -> list[Record]:
        """Every record in file order (built on first use)."""
        if self._records is None:
            found: list[Record] = []
            for rtype, frame in self._frames.items():
                lines = self._lines[rtype].tolist()
                for line, values in zip(lines, frame.to_dict("records"), strict=False):
                    found.append(Record(rtype, line, {k: _plain(v) for k, v in values.items()}))
            found.sort(key=lambda r: r.line)
            self._records = found
        return self._records

    def __repr__(self) -> str:
        counts = ", ".join(f"{t}={len(v)}" for t, v in self._lines.items())
        return f"<ParsedFile {self.file_name} ({self.layout.name}): {counts}>"


class ParsedChunk(ParsedFile):
    """A block of records of a file read in chunks (see ``Layout.iter_chunks``).

    Frames and ``lines_of`` hold this block's records only, with the file's line numbers.
    ``header`` is the file's header (read in the first block); ``trailer`` is given on the last
    chunk only (``last`` is True), after the whole-file checks have passed.
    """

    def __init__(self, *parts, header: dict[str, Any], trailer: dict[str, Any], last: bool) -> None:
        """``parts``: as ``ParsedFile`` (file name, layout, this block's frames and lines)."""
        super().__init__(*parts)
        self._header, self._trailer, self.last = header, trailer, last

    @property
    def header(self) -> dict[str, Any]:
        """The file's header record values ({} when the layout has none)."""
        return dict(self._header)

    @property
    def trailer(self) -> dict[str, Any]:
        """The trailer's values on the last chunk, {} on the others."""
        return dict(self._trailer)

    @property
    def rows(self) -> int:
        """How many records this chunk holds (of every type)."""
        return sum(len(v) for v in self._lines.values())
