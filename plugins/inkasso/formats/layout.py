"""A record layout (fixed-width or delimited), loaded from ``include/formats/layouts/<name>.yaml``.

The same ``Layout`` writes a file from a frame and reads a file back into records; see
``include/formats/layouts/README.md`` for the YAML keys.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from inkasso.config import read_yaml
from inkasso.formats.errors import LayoutError
from inkasso.formats.parsed import ParsedChunk, ParsedFile
from inkasso.formats.reader import iter_chunks, read_file
from inkasso.formats.spec import (
    LINE_ENDINGS,
    LayoutSpec,
    check_fixed_positions,
    records_from_yaml,
)
from inkasso.formats.writer import write_file, write_record_list

if TYPE_CHECKING:
    from collections.abc import Iterator

    import pandas as pd

ENCODINGS = ("iso-8859-1", "utf-8")


@dataclass(frozen=True)
class Layout(LayoutSpec):
    """A file layout (see ``LayoutSpec``) that writes a file from a frame and reads one back."""

    # ----------------------------------------------------------------------------- writing
    def write(
        self,
        header: dict[str, Any] | None,
        details: pd.DataFrame | list[dict[str, Any]],
        detail_type: str = "detail",
        trailer: dict[str, Any] | None = None,
        file_name: str | None = None,
    ) -> bytes:
        """The bytes of a file: one header, the detail rows, and a trailer computed from the controls.

        ``details`` columns are named as the detail record's fields (extra columns are ignored).
        Amounts and integers must be integer columns (a float column is refused); dates may be
        ``datetime.date``, datetimes or ISO strings. ``trailer`` fills non-control trailer fields.
        """
        return write_file(self, header, details, detail_type, trailer, file_name)

    def write_records(
        self, records: list[tuple[str, dict[str, Any]]], file_name: str | None = None
    ) -> bytes:
        """The bytes of a file from ``(record_type, values)`` pairs in file order.

        Include the header pair; the trailer is appended (or, if given last, completed) with its
        control fields computed from the records.
        """
        return write_record_list(self, records, file_name)

    # ----------------------------------------------------------------------------- reading
    def read(self, data: bytes, file_name: str) -> ParsedFile:
        """Parse and check a whole file; raises ``FormatError`` naming line and field."""
        return read_file(self, data, file_name)

    def iter_chunks(
        self,
        source: bytes | str | Path | IO[bytes],
        file_name: str | None = None,
        chunk_rows: int = 100_000,
    ) -> Iterator[ParsedChunk]:
        """Read a file (bytes, path or binary stream) in chunks of at most ``chunk_rows`` lines.

        See ``inkasso.formats.reader.iter_chunks``: memory is bounded by a chunk; the whole-file
        checks raise ``FormatError`` before the last chunk is yielded.
        """
        return iter_chunks(self, source, file_name, chunk_rows)


def layouts_dir() -> Path:
    """The folder of layout YAML files (``include/formats/layouts``)."""
    from inkasso import config

    return Path(config.FORMATS_DIR) / "layouts"


def list_layouts(directory: Path | None = None) -> list[str]:
    """The names of all layouts the project knows, e.g. ``lowell.new_cases``, ``bgmax``."""
    folder = directory or layouts_dir()
    return sorted(p.stem for p in folder.glob("*.yaml"))


def load_layout(name: str, directory: Path | None = None) -> Layout:
    """The layout called ``name`` (the file ``<name>.yaml``); raises ``LayoutError`` if unknown."""
    path = (directory or layouts_dir()) / f"{name}.yaml"
    if not path.is_file():
        known = ", ".join(list_layouts(directory)) or "none"
        raise LayoutError(f"no layout {name!r} (known: {known})")
    return _load(str(path), path.stat().st_mtime_ns)


@lru_cache(maxsize=128)
def _load(path: str, _mtime: int) -> Layout:
    raw = read_yaml(path)
    return layout_from_dict(raw, expected_name=Path(path).stem)


_LAYOUT_KEYS = {
    "name",
    "description",
    "kind",
    "encoding",
    "line_ending",
    "record_type",
    "record_length",
    "delimiter",
    "column_names",
    "lenient_length",
    "records",
}


def layout_from_dict(raw: dict[str, Any], expected_name: str | None = None) -> Layout:
    """Build and check a ``Layout`` from its YAML mapping."""
    name = raw.get("name")
    if expected_name is not None and name != expected_name:
        raise LayoutError(f"layout file {expected_name}.yaml says name: {name!r}")
    unknown = set(raw) - _LAYOUT_KEYS
    if unknown:
        raise LayoutError(f"layout {name}: unknown keys {sorted(unknown)}")
    kind = raw.get("kind")
    if kind not in ("fixed", "delimited"):
        raise LayoutError(f"layout {name}: kind must be fixed or delimited")
    encoding = str(raw.get("encoding", "")).lower()
    if encoding not in ENCODINGS:
        raise LayoutError(f"layout {name}: encoding must be one of {ENCODINGS}")
    ending = raw.get("line_ending", "crlf")
    if ending not in LINE_ENDINGS:
        raise LayoutError(f"layout {name}: line_ending must be crlf or lf")
    records = records_from_yaml(name, kind, raw.get("records"), raw.get("record_length"))
    extra: dict[str, Any] = {}
    if kind == "fixed":
        code = raw.get("record_type") or {}
        start, width = code.get("start", 1), code.get("width", 2)
        check_fixed_positions(name, records, start, width)
        records = {
            t: r
            if r.length is not None
            else dataclasses.replace(
                r, length=max([start + width - 1] + [f.start + f.width - 1 for f in r.fields])
            )
            for t, r in records.items()
        }
        extra.update(
            code_start=start, code_width=width, lenient_length=bool(raw.get("lenient_length"))
        )
    else:
        delimiter = raw.get("delimiter", ";")
        if not isinstance(delimiter, str) or len(delimiter) != 1:
            raise LayoutError(f"layout {name}: delimiter must be one character")
        column_names = raw.get("column_names")
        if column_names is not None and column_names not in records:
            raise LayoutError(f"layout {name}: column_names names no record type")
        extra.update(delimiter=delimiter, column_names=column_names)
    return Layout(
        name=name,
        kind=kind,
        encoding=encoding,
        line_ending=LINE_ENDINGS[ending],
        records=records,
        description=str(raw.get("description", "")).strip(),
        **extra,
    )
