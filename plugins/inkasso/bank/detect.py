"""Which bank file format a file is in, from its first bytes, and the reader for it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import IO

from inkasso.bank.model import BankChunk, BankFile, BankFileError

OCR_GIRO = "ocr_giro"
BGMAX = "bgmax"
_MAGIC = {OCR_GIRO: b"NY000010", BGMAX: b"01BGMAX"}


def detect_format(data: bytes) -> str | None:
    """``'ocr_giro'`` (starts with NY000010), ``'bgmax'`` (starts with 01BGMAX), else None."""
    head = data.lstrip(b"\xef\xbb\xbf\r\n ")[:16]
    for name, magic in _MAGIC.items():
        if head.startswith(magic):
            return name
    return None


def read_bank_file(data: bytes, file_name: str) -> BankFile:
    """Read an OCR giro or BgMax file into a `BankFile`; `BankFileError` if unknown or broken."""
    found = detect_format(data)
    if found == OCR_GIRO:
        from inkasso.bank.ocr_giro import read_ocr_giro

        return read_ocr_giro(data, file_name)
    if found == BGMAX:
        from inkasso.bank.bgmax import read_bgmax

        return read_bgmax(data, file_name)
    start = data[:8].decode("iso-8859-1", "replace")
    raise BankFileError(
        file_name,
        1 if data else None,
        "record_type" if data else None,
        f"neither OCR giro (starts NY000010) nor BgMax (starts 01BGMAX): starts {start!r}"
        if data
        else "the file is empty",
    )


def iter_bank_file(
    source: bytes | str | os.PathLike | IO[bytes],
    file_name: str,
    chunk_rows: int = 100_000,
) -> Iterator[BankChunk]:
    """Read an OCR giro or BgMax file in chunks of at most ``chunk_rows`` lines (`BankChunk`).

    ``source`` is the file's bytes, a path or a seekable binary stream. Memory is bounded by a
    chunk. The last chunk (``last``) carries the controls and the file's kind, and is yielded
    only after every whole-file check has passed: book the chunks in one transaction and commit
    after the loop; a `BankFileError` (file, line, field, reason) may come from any step.
    """
    found = detect_format(_head(source))
    if found == OCR_GIRO:
        from inkasso.bank.ocr_giro import iter_ocr_giro

        return iter_ocr_giro(source, file_name, chunk_rows)
    if found == BGMAX:
        from inkasso.bank.bgmax import iter_bgmax

        return iter_bgmax(source, file_name, chunk_rows)
    data = _head(source)
    raise BankFileError(
        file_name,
        1 if data else None,
        "record_type" if data else None,
        f"neither OCR giro (starts NY000010) nor BgMax (starts 01BGMAX): starts "
        f"{data[:8].decode('iso-8859-1', 'replace')!r}"
        if data
        else "the file is empty",
    )


def _head(source, size: int = 4096) -> bytes:
    """The first bytes of a file given as bytes, a path or a stream (left where it stood)."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source[:size])
    if isinstance(source, str | os.PathLike):
        with open(source, "rb") as handle:
            return handle.read(size)
    at = source.tell()
    head = source.read(size)
    source.seek(at)
    return head
