"""Fuzzing every reader: mutated files of every format may fail only with the project's own errors.

Hypothesis mutates valid files (the real reference files in ``../shared/reference/`` and files
written by the project's own writers) byte by byte and line by line. Whatever the bytes, a reader
either reads the file or raises ``FormatError`` / ``BankFileError`` naming the file; anything else
(ValueError from ``int()``, KeyError, IndexError, a numpy error) is a crash that would stop a whole
drop or agreement. The budget is small by default (CI); ``make fuzz`` runs it long with
``HYPOTHESIS_PROFILE=long``.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from inkasso.bank.model import BankFileError
from inkasso.cli import format_names, read_records
from inkasso.formats import FormatError, load_layout

settings.register_profile(
    "ci",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=False,
)
settings.register_profile(
    "long",
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "3000")),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
# applied to the fuzz test only (not loaded globally: other Hypothesis tests keep theirs)
PROFILE = settings.get_profile("long" if os.environ.get("HYPOTHESIS_PROFILE") == "long" else "ci")

REFERENCE = Path(__file__).resolve().parents[3].parent / "shared" / "reference"

# Characters that have broken readers, or could: look like digits to str.isdigit() but not to
# int() (superscripts), digits int() takes but a file must not (Arabic-Indic, fullwidth), control
# characters, the delimiters, a BOM, line breaks.
NASTY = [
    "²", "³", "¹", "½", "٣", "０", "\x00", "\x01", "\x1b", "\x7f", "\t", ";", "|", ",", "\r",
    "\n", "\r\n", "\ufeff", "\u2028", "-", "+", ".", " ", "e", "E", "0", "9", "x", "Ø", "ä",
]  # fmt: skip


def _value(field, layout):
    """A deterministic valid value for one field of a layout (as the round-trip test writes)."""
    if field.const is not None:
        return field.const
    if field.values is not None:
        return sorted(field.values)[0]
    if field.type == "text":
        return "Ærlig Åse"[: field.width or 9].strip() or "A"
    if field.type == "date":
        return dt.date(2026, 11, 2)
    width = field.width or 9
    return min(12345, 10 ** (width - 1 - (1 if field.decimals else 0)) - 1)


def written_seed(name: str) -> bytes:
    """A valid file of layout ``name`` written by the project's own writer: every record type."""
    layout = load_layout(name)
    records = []
    if layout.header is not None:
        records.append(
            (layout.header.type, {f.name: _value(f, layout) for f in layout.header.fields})
        )
    for rtype in layout.detail_types:
        values = {f.name: _value(f, layout) for f in layout.records[rtype].fields}
        records += [(rtype, values), (rtype, values)]
    if layout.trailer is not None:
        records.append((layout.trailer.type, {f.name: None for f in layout.trailer.fields}))
    data = layout.write_records(records, file_name=f"seed.{name}")
    layout.read(data, "seed")  # a seed must itself be valid
    return data


def seeds(name: str) -> list[bytes]:
    """The valid files a format's mutations start from."""
    if name == "ocr_giro":
        folder = REFERENCE / "ocr-giro"
        found = [p.read_bytes() for p in sorted(folder.glob("*.txt"))]
    elif name == "bgmax":
        folder = REFERENCE / "bgmax"
        found = [p.read_bytes() for p in sorted(folder.glob("*.txt")) if "broken" not in p.name]
        found.append(written_seed(name))
    else:
        return [written_seed(name)]
    assert found, f"reference files missing in {folder}: the fuzz test needs them"
    return found


def _mutate(data: bytes, ops: list[tuple], encoding: str) -> bytes:
    """Apply a list of mutations (drawn by ``mutations``) to ``data``."""
    out = bytearray(data)
    for op, where, what in ops:
        pos = where % (len(out) + 1)
        if op == "replace" and out:
            pos = min(pos, len(out) - 1)
            out[pos : pos + 1] = what
        elif op == "insert":
            out[pos:pos] = what
        elif op == "delete":
            del out[pos : pos + len(what) + 1]
        elif op == "truncate":
            del out[pos:]
        elif op == "dup_line":
            lines = bytes(out).split(b"\n")
            i = where % len(lines)
            lines.insert(i, lines[i])
            out = bytearray(b"\n".join(lines))
        elif op == "drop_line":
            lines = bytes(out).split(b"\n")
            del lines[where % len(lines)]
            out = bytearray(b"\n".join(lines))
        elif op == "swap_lines":
            lines = bytes(out).split(b"\n")
            i, j = where % len(lines), (where // 7) % len(lines)
            lines[i], lines[j] = lines[j], lines[i]
            out = bytearray(b"\n".join(lines))
    return bytes(out)


def mutations(encoding: str):
    """A strategy for a short list of mutations; inserted bytes are nasty characters or random."""
    nasty = st.sampled_from(NASTY).map(lambda c: c.encode(encoding, "backslashreplace"))
    nasty_utf8 = st.sampled_from(NASTY).map(lambda c: c.encode("utf-8"))
    payload = st.one_of(nasty, nasty_utf8, st.binary(min_size=1, max_size=6))
    op = st.tuples(
        st.sampled_from(
            ["replace", "replace", "replace", "insert", "delete", "truncate", "dup_line",
             "drop_line", "swap_lines"]
        ),
        st.integers(0, 1 << 20),
        payload,
    )  # fmt: skip
    return st.lists(op, min_size=1, max_size=4)


def _encoding(name: str) -> str:
    return "iso-8859-1" if name == "ocr_giro" else load_layout(name).encoding


@pytest.mark.fuzz
@pytest.mark.parametrize("name", format_names())
def test_reader_raises_only_format_errors(name):
    """Whatever mutated bytes a reader gets, only FormatError / BankFileError may escape it."""
    files = seeds(name)
    encoding = _encoding(name)
    ran = []

    @settings(PROFILE)
    @given(st.sampled_from(files), mutations(encoding))
    def check(seed, ops):
        ran.append(1)
        data = _mutate(seed, ops, encoding)
        try:
            for _ in read_records(name, data, "fuzzed.txt"):
                pass
        except (FormatError, BankFileError) as error:
            assert error.file_name == "fuzzed.txt"
            assert str(error).startswith("fuzzed.txt")

    check()
    _report(name, len(ran))


def _report(name: str, mutations_run: int) -> None:
    """Append the format's count of mutated files read to ``$FUZZ_REPORT`` (``make fuzz``)."""
    if path := os.environ.get("FUZZ_REPORT"):
        with open(path, "a", encoding="utf-8") as out:
            out.write(f"{name}\t{mutations_run}\n")
